// `ovn-drift trace --router R IP`: the seed's five-command investigation in one view — the NB
// route that matches IP by longest prefix, its nexthop port and binding, the SB flow that really
// matches and the hypervisor reached, with the differences marked.
// trace is an investigation view, not a gate: exit 0 whether or not NB and SB agree (the
// differences are marked), 1 bad input (not an IP, unknown router), 2 unreachable.
// Wiring only: the decision is operator/drift/trace.ts.
import { parseArgs } from 'node:util';
import { renderTraceText, traceIp } from '../drift/index.js';
import { parseIp } from '../ovn/ip.js';
import { readViews, type OvnDatabases } from '../ovn/index.js';
import { CONNECTION_HELP, CONNECTION_OPTIONS, EXIT, UsageError, connect, connectionFlags, type ConnectionFlags } from './check.js';

const USAGE = `usage: ovn-drift trace --nb REMOTE --sb REMOTE --router ROUTER [--src IP] [--inport LRP] IP [--output text|json]

Follows destination IP (IPv4 or IPv6) on logical router ROUTER as the router pipeline does: the
route table of the ingress port, the longest dst-ip/src-ip static route or connected network, the
Logical_Router_Policy that acts after routing, the nexthop's router port, switch, port and
Port_Binding, the SB lr_in_ip_routing flow that matches, and the hypervisor.

${CONNECTION_HELP}
  --router ROUTER       NB Logical_Router name
  --src IP              source address (follows src-ip routes and source-dependent policies)
  --inport LRP          ingress Logical_Router_Port (its options:route_table picks the route table)

exit status: 0 traced (differences are marked, not an error), 1 bad input or usage, 2 databases unreachable`;

export async function run(argv: string[]): Promise<number> {
  let values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv, options: { ...CONNECTION_OPTIONS, router: { type: 'string', short: 'r' }, src: { type: 'string' }, inport: { type: 'string' } }, allowPositionals: true }));
  } catch (err) {
    console.error(`ovn-drift trace: ${(err as Error).message}\n\n${USAGE}`);
    return EXIT.badInput;
  }
  if (values.help) {
    console.log(USAGE);
    return EXIT.ok;
  }
  let flags: ConnectionFlags;
  try {
    flags = await connectionFlags(values, 'ovn-drift trace');
    if (!values.router) throw new UsageError('ovn-drift trace: --router ROUTER is required');
    if (positionals.length !== 1) throw new UsageError(`ovn-drift trace: exactly one IP is required, got ${positionals.length}`);
    const dst = parseIp(positionals[0]!);
    if (!dst) throw new UsageError(`ovn-drift trace: ${positionals[0]} is not an IPv4 or IPv6 address`);
    if (values.src !== undefined) {
      const src = parseIp(values.src);
      if (!src) throw new UsageError(`ovn-drift trace: --src ${values.src} is not an IPv4 or IPv6 address`);
      if (src.family !== dst.family) throw new UsageError(`ovn-drift trace: --src ${values.src} is IPv${src.family} but ${positionals[0]} is IPv${dst.family}: a packet has one family`);
    }
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${USAGE}`);
    return EXIT.badInput;
  }
  let dbs: OvnDatabases;
  try {
    dbs = await connect(flags);
  } catch (err) {
    console.error(`ovn-drift trace: ${(err as Error).message}`);
    return EXIT.runtime;
  }
  try {
    const { nb, sb } = readViews(dbs);
    const result = traceIp(nb, sb, values.router!, positionals[0]!, { ...(values.src ? { src: values.src } : {}), ...(values.inport ? { inport: values.inport } : {}) });
    if (flags.output === 'json') console.log(JSON.stringify(result, null, 2));
    else console.log(renderTraceText(result));
    if (result.error) {
      if (flags.output === 'json') console.error(`ovn-drift trace: ${result.error}`);
      return EXIT.badInput;
    }
    return EXIT.ok;
  } catch (err) {
    console.error(`ovn-drift trace: ${(err as Error).message}`);
    return EXIT.runtime;
  } finally {
    await dbs.close();
  }
}
