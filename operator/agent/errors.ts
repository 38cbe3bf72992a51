// Error hierarchy of the NOTRACK agent: every failure carries a stable `code` callers branch on
// (never the message) and the underlying `cause`. No imports beyond the standard library.

export type AgentErrorCode =
  | 'ManifestUnreadable' // a -f path cannot be read or parsed as YAML
  | 'PolicyInvalid' // a TunnelNoTrackPolicy fails validation
  | 'IptablesMissing' // iptables / iptables-restore binaries are not installed
  | 'IptablesFailed' // an iptables command ran and failed
  | 'ConntrackFailed' // conntrack could not delete existing entries
  | 'Usage'; // bad flags

export class AgentError extends Error {
  readonly code: AgentErrorCode;
  constructor(code: AgentErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AgentError';
    this.code = code;
  }
}

/** Input errors (exit 1) versus runtime errors (exit 2). */
export function isInputError(err: unknown): boolean {
  return err instanceof AgentError && (err.code === 'ManifestUnreadable' || err.code === 'PolicyInvalid' || err.code === 'Usage');
}
