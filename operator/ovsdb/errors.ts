// The OVSDB layer's errors: one small hierarchy with stable `code`s (callers branch on the code,
// never on a message) and a `cause`. Every RFC 7047 per-operation error string maps to its own
// class. Every OvsdbError is an OvnDriftError (operator/errors.ts, the product's one error base);
// BadRemote is bad input (exit 1), the rest runtime (exit 2). No I/O; imports only operator/errors.ts.
import { OvnDriftError } from '../errors.js';

export type OvsdbErrorCode =
  | 'Unreachable'
  | 'Timeout'
  | 'Disconnected'
  | 'StaleView'
  | 'TlsError'
  | 'BadRemote'
  | 'Protocol'
  | 'RpcError'
  | 'TransactionFailed'
  | 'NotFollowed'
  | 'WriteRefused'
  | OperationErrorCode;

export class OvsdbError extends OvnDriftError {
  declare readonly code: OvsdbErrorCode;
  constructor(code: OvsdbErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, { ...options, exit: code === 'BadRemote' ? 'badInput' : 'runtime' });
  }
}

/** No remote answered; the message names every remote tried and why it failed. */
export class UnreachableError extends OvsdbError {
  constructor(
    message: string,
    readonly attempts: { remote: string; error: string }[] = [],
    options?: ErrorOptions,
  ) {
    super('Unreachable', message, options);
  }
}

/** A request got no reply in time, or the server stopped answering the inactivity probe. */
export class TimeoutError extends OvsdbError {
  constructor(message: string, options?: ErrorOptions) {
    super('Timeout', message, options);
  }
}

/** The connection dropped (or was closed) while the request was pending, or there is none. */
export class DisconnectedError extends OvsdbError {
  constructor(message: string, options?: ErrorOptions) {
    super('Disconnected', message, options);
  }
}

/**
 * Why a connected replica may be stale (all plain data, for verdicts and messages):
 * - `cut-off`: a RAFT member not connected to its cluster (`_Server` connected=false);
 * - `relay-cut-off`: a relay (`_Server` model relay) that lost its source (connected=false);
 * - `backup`: a read-only backup of an active/backup pair (`ovsdb-server --sync-from`), which may
 *   lag the active server and is not told when it does;
 * - `index-behind`: a RAFT member whose log index is behind one this replica already saw.
 */
export type StaleReason = 'cut-off' | 'relay-cut-off' | 'backup' | 'index-behind';

export interface Staleness {
  reason: StaleReason;
  /** The remote serving the stale copy. */
  server: string;
  db: string;
  /** When this replica first saw the condition (ms since the epoch). */
  since: number;
  /** One sentence naming the server and why (what StaleViewError.message says). */
  detail: string;
  /** For index-behind: the server's index and the highest index seen before. */
  index?: number;
  seenIndex?: number;
}

/** Connected, but to a server whose copy may be stale (see Staleness for the reasons). */
export class StaleViewError extends OvsdbError {
  constructor(
    message: string,
    readonly staleness?: Staleness,
    options?: ErrorOptions,
  ) {
    super('StaleView', message, options);
  }
}

/**
 * The server refused a write as such (not a failed guard): `read-only` for a backup server or a
 * read-only remote ("not allowed"), `permission` for OVSDB RBAC ("permission error"). The
 * message names the server and the database; `cause` is the TransactionFailedError.
 */
export class WriteRefusedError extends OvsdbError {
  constructor(
    message: string,
    readonly server: string,
    readonly why: 'read-only' | 'permission',
    options?: ErrorOptions,
  ) {
    super('WriteRefused', message, options);
  }
}

/** Bad key/cert/CA file or a refused TLS handshake; the message names the file or remote. */
export class TlsError extends OvsdbError {
  constructor(message: string, options?: ErrorOptions) {
    super('TlsError', message, options);
  }
}

/** An unparseable remote string. */
export class BadRemoteError extends OvsdbError {
  constructor(message: string, options?: ErrorOptions) {
    super('BadRemote', message, options);
  }
}

/** The peer broke the wire protocol (invalid JSON, unexpected message shape). */
export class ProtocolError extends OvsdbError {
  constructor(message: string, options?: ErrorOptions) {
    super('Protocol', message, options);
  }
}

/** A JSON-RPC request failed as a whole (e.g. "unknown database", "unknown method"). */
export class RpcError extends OvsdbError {
  constructor(
    readonly method: string,
    readonly error: unknown,
    options?: ErrorOptions,
  ) {
    super('RpcError', `${method} failed: ${describeRpcError(error)}`, options);
  }

  /** The RFC 7047 error string when the server sent one ({"error": "...", "details": ...}). */
  get errorString(): string | undefined {
    if (typeof this.error === 'string') return this.error;
    if (this.error && typeof this.error === 'object' && typeof (this.error as { error?: unknown }).error === 'string') {
      return (this.error as { error: string }).error;
    }
    return undefined;
  }
}

function describeRpcError(error: unknown): string {
  if (typeof error === 'string') return error;
  if (error && typeof error === 'object') {
    const e = error as { error?: unknown; details?: unknown };
    if (typeof e.error === 'string') return e.details ? `${e.error} (${String(e.details)})` : e.error;
  }
  return JSON.stringify(error);
}

// ---- per-operation errors (RFC 7047 section 4.1.3 and ovsdb-server's additions) ----

export type OperationErrorCode =
  | 'ReferentialIntegrityViolation'
  | 'ConstraintViolation'
  | 'ResourcesExhausted'
  | 'IoError'
  | 'DuplicateUuidName'
  | 'DomainError'
  | 'RangeError'
  | 'WaitTimedOut'
  | 'NotSupported'
  | 'Aborted'
  | 'NotOwner'
  | 'SyntaxError'
  | 'UnknownColumn'
  | 'PermissionError'
  | 'NotAllowed'
  | 'OperationError';

/** One failed entry of a `transact` result. `index` is the operation's position (or ops.length for commit). */
export class OperationError extends OvsdbError {
  constructor(
    code: OperationErrorCode,
    /** The RFC 7047 error string as the server sent it. */
    readonly error: string,
    readonly details: string | undefined,
    readonly index: number,
    /** The operation's `op` ('insert', ...), or 'commit' for the extra entry a failed commit adds. */
    readonly op: string,
    options?: ErrorOptions,
  ) {
    super(code, `operation ${index} (${op}): ${error}${details ? `: ${details}` : ''}`, options);
  }
}
class ReferentialIntegrityViolationError extends OperationError {}
export class ConstraintViolationError extends OperationError {}
class ResourcesExhaustedError extends OperationError {}
class IoError extends OperationError {}
class DuplicateUuidNameError extends OperationError {}
class DomainError extends OperationError {}
class OvsdbRangeError extends OperationError {}
/** A `wait` operation whose condition did not hold before its timeout ("timed out"). */
export class WaitTimedOutError extends OperationError {}
class NotSupportedError extends OperationError {}
class AbortedError extends OperationError {}
class NotOwnerError extends OperationError {}
class OperationSyntaxError extends OperationError {}
class UnknownColumnError extends OperationError {}
class PermissionError extends OperationError {}
/** ovsdb-server in read-only mode (a backup, or a read-only remote) refused a write ("not allowed"). */
class NotAllowedError extends OperationError {}

type OpErrorClass = new (
  code: OperationErrorCode,
  error: string,
  details: string | undefined,
  index: number,
  op: string,
) => OperationError;

const OPERATION_ERRORS: Record<string, [OperationErrorCode, OpErrorClass]> = {
  'referential integrity violation': ['ReferentialIntegrityViolation', ReferentialIntegrityViolationError],
  'constraint violation': ['ConstraintViolation', ConstraintViolationError],
  'resources exhausted': ['ResourcesExhausted', ResourcesExhaustedError],
  'I/O error': ['IoError', IoError],
  'duplicate uuid-name': ['DuplicateUuidName', DuplicateUuidNameError],
  'domain error': ['DomainError', DomainError],
  'range error': ['RangeError', OvsdbRangeError],
  'timed out': ['WaitTimedOut', WaitTimedOutError],
  'not supported': ['NotSupported', NotSupportedError],
  aborted: ['Aborted', AbortedError],
  'not owner': ['NotOwner', NotOwnerError],
  'syntax error': ['SyntaxError', OperationSyntaxError],
  'unknown column': ['UnknownColumn', UnknownColumnError],
  'permission error': ['PermissionError', PermissionError],
  'not allowed': ['NotAllowed', NotAllowedError],
};

/** Maps one RFC 7047 error entry to its class. Unknown strings become a plain OperationError. */
function operationError(entry: { error: string; details?: unknown }, index: number, op: string): OperationError {
  const known = OPERATION_ERRORS[entry.error];
  const details = entry.details === undefined || entry.details === null ? undefined : String(entry.details);
  if (known) return new known[1](known[0], entry.error, details, index, op);
  return new OperationError('OperationError', entry.error, details, index, op);
}

/** A transaction that did not commit; `errors` lists every failed entry (including a failed commit). */
export class TransactionFailedError extends OvsdbError {
  constructor(
    readonly errors: OperationError[],
    /** The raw result array the server sent. */
    readonly results: unknown[],
    options?: ErrorOptions,
  ) {
    super(
      'TransactionFailed',
      `transaction failed: ${errors.map((e) => e.message).join('; ') || 'unknown error'}`,
      { cause: errors[0], ...options },
    );
  }

  /** True when some entry has this code (e.g. 'WaitTimedOut'). */
  has(code: OperationErrorCode): boolean {
    return this.errors.some((e) => e.code === code);
  }
}

/**
 * Interprets a `transact` result: returns it when every operation succeeded, throws
 * TransactionFailedError otherwise. Per RFC 7047 a failing operation's entry has an `error`;
 * entries after it are null; a failed commit (e.g. a constraint checked at commit time) adds one
 * extra entry beyond the operations.
 */
export function checkTransactResult(ops: { op: string }[], result: unknown): unknown[] {
  if (!Array.isArray(result)) throw new ProtocolError(`transact returned ${JSON.stringify(result)?.slice(0, 200)}, not an array`);
  const errors: OperationError[] = [];
  result.forEach((entry, i) => {
    if (entry && typeof entry === 'object' && typeof (entry as { error?: unknown }).error === 'string') {
      errors.push(operationError(entry as { error: string; details?: unknown }, i, i < ops.length ? ops[i]!.op : 'commit'));
    }
  });
  if (errors.length > 0) throw new TransactionFailedError(errors, result);
  return result;
}
