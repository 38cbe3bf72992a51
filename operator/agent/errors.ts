// Errors of the NOTRACK agent: an OvnDriftError (operator/errors.ts) whose stable `code` callers
// branch on (never the message) and metrics count (`ovndrift_agent_errors_total{code}`). The code
// fixes the exit class: input codes are bad input (exit 1), the rest runtime (exit 2).
// No imports beyond operator/errors.ts.
import { OvnDriftError } from '../errors.js';

export type AgentErrorCode =
  | 'ManifestUnreadable' // a -f path cannot be read or a document is not valid YAML (exit 1)
  | 'PolicyInvalid' // a TunnelNoTrackPolicy fails validation (exit 1)
  | 'IptablesMissing' // iptables / iptables-restore binaries are not installed
  | 'IptablesFailed' // an iptables command ran and failed
  | 'ConntrackFailed' // conntrack could not delete existing entries
  | 'NodeNotFound' // cluster mode: this node's Node object is not in the API (nodeSelectors cannot be matched)
  | 'NodeStateConflict'; // cluster mode: the NodeNoTrackState status write kept conflicting

const INPUT_CODES: ReadonlySet<AgentErrorCode> = new Set(['ManifestUnreadable', 'PolicyInvalid']);

export class AgentError extends OvnDriftError {
  declare readonly code: AgentErrorCode;
  constructor(code: AgentErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, { ...options, exit: INPUT_CODES.has(code) ? 'badInput' : 'runtime' });
  }
}

/** Anything thrown during a pass as an AgentError (a foreign error counts as an iptables failure). */
export function asAgentError(err: unknown): AgentError {
  return err instanceof AgentError ? err : new AgentError('IptablesFailed', err instanceof Error ? err.message : String(err), { cause: err });
}
