// Errors of operator/ovn: the OVN NB or SB database could not be opened. An OvnDriftError
// (operator/errors.ts) with its own code — distinct from the OVSDB layer's `Unreachable`, which it
// carries as `cause` (a timeout, a refused TLS handshake, a stale server, ...). Exit class: runtime (2).
import { OvnDriftError } from '../errors.js';

export class OvnConnectError extends OvnDriftError {
  declare readonly code: 'OvnDatabaseUnreachable';
  constructor(
    readonly db: 'NB' | 'SB',
    readonly remote: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super('OvnDatabaseUnreachable', message, { ...options, exit: 'runtime' });
  }
}
