// Row interpretation of the columns that carry IPs and port wiring: Logical_Switch_Port
// `addresses`, `dynamic_addresses`, `port_security`, `options:virtual-ip`/`virtual-parents`/
// `router-port`, Logical_Router_Port `networks`. The one place these columns are parsed; the NB
// view, the topology model and the change identities (identities.ts) all use it.
// Pure; must not import the OVSDB client.
import type { Row } from '../ovsdb/types.js';
import { canonicalIp, parseIp } from './ip.js';
import { str, strMap, strSet } from './rows.js';

/** Where a switch port's IP was found, in the order a lookup prefers them. */
export type IpSource = 'addresses' | 'dynamic_addresses' | 'port_security' | 'virtual-ip';

export interface PortIp {
  ip: string;
  mac?: string;
  source: IpSource;
}

const MAC = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;

/** The MAC (lower case) an "MAC IP IP..." entry starts with (also Port_Binding `mac`), if any. */
export function entryMac(entry: string): string | undefined {
  const first = entry.trim().split(/\s+/, 1)[0] ?? '';
  return MAC.test(first) ? first.toLowerCase() : undefined;
}

/** Reads "MAC IP IP...", "router", "unknown", "dynamic" entries (addresses, dynamic_addresses, port_security). */
function addressEntries(entries: string[], source: IpSource): PortIp[] {
  const out: PortIp[] = [];
  for (const e of entries) {
    const words = e.trim().split(/\s+/).filter(Boolean);
    if (words.length === 0 || ['router', 'unknown', 'dynamic'].includes(words[0]!)) continue;
    const mac = entryMac(e);
    if (mac) words.shift();
    for (const w of words) {
      const a = w.replace(/\/\d+$/, '');
      if (parseIp(a)) out.push({ ip: canonicalIp(a), ...(mac ? { mac } : {}), source });
    }
  }
  return out;
}

/** Every IP a Logical_Switch_Port row carries, with where it was found. */
export function switchPortIps(row: Row): PortIp[] {
  const out = [
    ...addressEntries(strSet(row.addresses), 'addresses'),
    ...addressEntries(strSet(row.dynamic_addresses), 'dynamic_addresses'),
    ...addressEntries(strSet(row.port_security), 'port_security'),
  ];
  const opts = strMap(row.options);
  if (str(row.type) === 'virtual' && opts['virtual-ip']) {
    for (const w of opts['virtual-ip'].split(/[\s,]+/)) if (parseIp(w)) out.push({ ip: canonicalIp(w), source: 'virtual-ip' });
  }
  return out;
}

/** The wiring a Logical_Switch_Port row states through its type and options. */
export interface SwitchPortWiring {
  type: string;
  /** options:router-port of a type=router port: the Logical_Router_Port behind it. */
  routerPort?: string;
  /** options:virtual-parents of a type=virtual port. */
  virtualParents: string[];
  options: Record<string, string>;
}

export function switchPortWiring(row: Row): SwitchPortWiring {
  const options = strMap(row.options);
  const type = str(row.type);
  return {
    type,
    ...(type === 'router' && options['router-port'] ? { routerPort: options['router-port'] } : {}),
    virtualParents: (options['virtual-parents'] ?? '').split(/[\s,]+/).filter(Boolean),
    options,
  };
}

/** IPs of Logical_Router_Port networks ("10.0.0.1/24"). */
export function routerPortIps(row: Row): string[] {
  return strSet(row.networks)
    .map((n) => n.replace(/\/\d+$/, ''))
    .filter((a) => parseIp(a) !== undefined)
    .map(canonicalIp);
}

/** IPs in a free text of nexthops ("10.0.0.1", "10.0.0.1,10.0.0.2", "discard"). */
export function ipsInText(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((w) => w.replace(/\/\d+$/, ''))
    .filter((w) => parseIp(w) !== undefined)
    .map(canonicalIp);
}
