// OVSDB remote strings (ovsdb-server(1) "active" syntax): tcp:IP[:PORT], ssl:IP[:PORT], unix:PATH,
// and comma-separated lists of them for a clustered database. Pure; no I/O.
import { isIP } from 'node:net';
import { BadRemoteError } from './errors.js';

export type Remote =
  | { kind: 'tcp' | 'ssl'; host: string; port: number; text: string }
  | { kind: 'unix'; path: string; text: string };

/** The IANA port for OVSDB, the default when a tcp/ssl remote names none. */
const OVSDB_PORT = 6640;

const SYNTAX = 'expected tcp:IP:PORT, ssl:IP:PORT or unix:PATH (a comma-separated list for a cluster)';

function parseRemote(text: string): Remote {
  const s = text.trim();
  const colon = s.indexOf(':');
  const kind = colon < 0 ? '' : s.slice(0, colon);
  const rest = colon < 0 ? '' : s.slice(colon + 1);
  if (kind === 'unix') {
    if (!rest) throw new BadRemoteError(`bad OVSDB remote "${text}": unix: needs a socket path`);
    return { kind, path: rest, text: s };
  }
  if (kind !== 'tcp' && kind !== 'ssl') throw new BadRemoteError(`bad OVSDB remote "${text}": ${SYNTAX}`);
  let host: string;
  let portText: string | undefined;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) throw new BadRemoteError(`bad OVSDB remote "${text}": unterminated [IPv6] address`);
    host = rest.slice(1, close);
    const after = rest.slice(close + 1);
    if (after && !after.startsWith(':')) throw new BadRemoteError(`bad OVSDB remote "${text}": ${SYNTAX}`);
    portText = after ? after.slice(1) : undefined;
  } else {
    const parts = rest.split(':');
    if (parts.length > 2) throw new BadRemoteError(`bad OVSDB remote "${text}": write IPv6 addresses as [ADDR]:PORT`);
    host = parts[0]!;
    portText = parts[1];
  }
  if (!host || isIP(host) === 0) throw new BadRemoteError(`bad OVSDB remote "${text}": "${host}" is not an IP address (${SYNTAX})`);
  const port = portText === undefined || portText === '' ? OVSDB_PORT : Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535 || (portText !== undefined && !/^\d+$/.test(portText))) {
    throw new BadRemoteError(`bad OVSDB remote "${text}": port "${portText}" is not a number from 1 to 65535`);
  }
  return { kind, host, port, text: s };
}

/** Parses a single remote or a comma-separated list (a cluster). */
export function parseRemotes(text: string): Remote[] {
  if (typeof text !== 'string' || text.trim() === '') throw new BadRemoteError(`empty OVSDB remote: ${SYNTAX}`);
  return text.split(',').map((r) => parseRemote(r));
}
