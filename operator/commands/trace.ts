// `ovn-drift trace --router R IP`: the seed's five-command investigation in one view — the NB
// route that matches IP by longest prefix, its nexthop port and binding, the SB flow that really
// matches and the hypervisor reached, with the differences marked.
// trace is an investigation view, not a gate: exit 0 whether or not NB and SB agree (the
// differences are marked), 1 bad input (not an IP, unknown router), 2 unreachable.
// Wiring only: the decision is operator/drift/trace.ts.
import { parseArgs } from 'node:util';
import { renderTraceText, traceIp } from '../drift/index.js';
import { parseIp } from '../ovn/ip.js';
import { openOvn, readViews, type OvnDatabases } from '../ovn/index.js';
import { EXIT } from '../errors.js';
import { CONNECTION_HELP, CONNECTION_OPTIONS, connectionFlags, failed, flagContext, throwProblems, type ConnectionFlags } from './flags.js';

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
  const ctx = flagContext('ovn-drift trace');
  let flags: ConnectionFlags;
  let router: string;
  let ip: string;
  let src: string | undefined;
  let inport: string | undefined;
  try {
    const { values, positionals } = parseArgs({ args: argv, options: { ...CONNECTION_OPTIONS, router: { type: 'string', short: 'r' }, src: { type: 'string' }, inport: { type: 'string' } }, allowPositionals: true });
    if (values.help) {
      console.log(USAGE);
      return EXIT.ok;
    }
    const problems: string[] = [];
    const connection = await connectionFlags(ctx, problems, values);
    if (!values.router) problems.push('--router ROUTER is required');
    if (positionals.length !== 1) problems.push(`exactly one IP is required, got ${positionals.length}`);
    else {
      const dst = parseIp(positionals[0]!);
      if (!dst) problems.push(`${positionals[0]} is not an IPv4 or IPv6 address`);
      else if (values.src !== undefined) {
        const s = parseIp(values.src);
        if (!s) problems.push(`--src ${values.src} is not an IPv4 or IPv6 address`);
        else if (s.family !== dst.family) problems.push(`--src ${values.src} is IPv${s.family} but ${positionals[0]} is IPv${dst.family}: a packet has one family`);
      }
    }
    throwProblems(ctx, problems);
    flags = connection!;
    router = values.router!;
    ip = positionals[0]!;
    src = values.src;
    inport = values.inport;
  } catch (err) {
    return failed(ctx, err, USAGE);
  }
  let dbs: OvnDatabases;
  try {
    dbs = await openOvn(flags);
  } catch (err) {
    return failed(ctx, err);
  }
  try {
    const { nb, sb } = readViews(dbs);
    const result = traceIp(nb, sb, router, ip, { ...(src ? { src } : {}), ...(inport ? { inport } : {}) });
    if (flags.output === 'json') console.log(JSON.stringify(result, null, 2));
    else console.log(renderTraceText(result));
    if (result.error) {
      if (flags.output === 'json') console.error(`${ctx.command}: ${result.error}`);
      return EXIT.badInput;
    }
    return EXIT.ok;
  } catch (err) {
    return failed(ctx, err);
  } finally {
    await dbs.close();
  }
}
