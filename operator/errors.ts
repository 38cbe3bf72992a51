// The one error model of ovn-drift (modelled on undici's lib/core/errors.js): one base class,
// OvnDriftError, with a stable string `code` callers branch on (never the message), the usual
// `cause`, and the exit-code class the CLI maps it to; each layer adds small subclasses with fixed
// codes (ovsdb/errors.ts, ovn/errors.ts, kube/config.ts, agent/errors.ts, sandbox). One exit-code
// vocabulary (EXIT, the CLI contract of docs/DESIGN: 0 ok, 1 bad input or usage, 2 unreachable or
// runtime failure, 3 drift remains) and one mapping, exitCodeOf(err), used by every command.
// A leaf: imports nothing from the project. Code list and mapping: docs/errors.md.

/** Exit statuses of every command (the CLI contract; `agent --once`: 0 applied, 1 bad input, 2 iptables failed). */
export const EXIT = { ok: 0, badInput: 1, runtime: 2, drift: 3 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** How a failure is classed for the exit status: the caller's input, or the world at run time. */
export type ErrorClass = 'badInput' | 'runtime';

export interface OvnDriftErrorOptions extends ErrorOptions {
  /** Overrides the class's default exit class (e.g. a code that is bad input in one layer). */
  exit?: ErrorClass;
}

export class OvnDriftError extends Error {
  /** Stable identifier of what went wrong; unique across the product (docs/errors.md). */
  readonly code: string;
  /** Which exit status this error means when it ends a command. */
  readonly exit: ErrorClass;
  constructor(code: string, message: string, options: OvnDriftErrorOptions = {}) {
    const { exit, ...errorOptions } = options;
    super(message, errorOptions);
    this.name = new.target.name;
    this.code = code;
    this.exit = exit ?? 'runtime';
  }
}

/** A flag, environment variable or argument the command cannot use (exit 1). */
export class UsageError extends OvnDriftError {
  constructor(message: string, options?: ErrorOptions) {
    super('Usage', message, { ...options, exit: 'badInput' });
  }
}

/** Input files (manifests) that cannot be read or are invalid (exit 1); nothing was changed. */
export class InputError extends OvnDriftError {
  constructor(code: 'ManifestUnreadable' | 'ManifestInvalid', message: string, options?: ErrorOptions) {
    super(code, message, { ...options, exit: 'badInput' });
  }
}

/** The exit status an error ends a command with: its class for ours, 2 (runtime) for anything else. */
export function exitCodeOf(err: unknown): ExitCode {
  return err instanceof OvnDriftError && err.exit === 'badInput' ? EXIT.badInput : EXIT.runtime;
}

/** The stable code of one of our errors, undefined for a foreign one (metrics labels, logs). */
export function codeOf(err: unknown): string | undefined {
  return err instanceof OvnDriftError ? err.code : undefined;
}

/** The message of anything thrown (a non-Error value is stringified). */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
