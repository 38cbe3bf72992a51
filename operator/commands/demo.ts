// `ovn-drift demo`: starts the embedded OVN control plane (ovsdb-server NB/SB + ovn-northd), builds
// the seed's topology and drift (10.9.52.144/28: NB via 10.9.2.146, SB flow still via
// 10.215.91.233 because northd was down), runs check, restarts northd, checks again (in sync),
// then shows a repair: a route deleted by hand comes back with `check --repair`. Stops the sandbox.
// Exit 0 when the story played out as told, 2 otherwise.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadPodCIDRRoutes } from '../manifests/files.js';
import { OvnSandbox } from '../sandbox/sandbox.js';
import { SEED, buildSeedDrift, seedManifest } from '../ovn/seed-topology.js';
import { checkWith, printCheck } from './check.js';
import { renderTraceText, traceIp } from '../drift/index.js';
import { openOvn, readViews } from '../ovn/index.js';
import { EXIT } from '../errors.js';
import { failed, flagContext, outputFlag, throwProblems } from './flags.js';

const USAGE = `usage: ovn-drift demo [--output text|json]

Starts a local OVN control plane, reproduces the drift of the field report (a route whose SB flow
went stale while ovn-northd was down), checks it, heals it, and shows a repair. Needs ovn-central.`;

export async function run(argv: string[]): Promise<number> {
  const ctx = flagContext('ovn-drift demo');
  let output: 'text' | 'json';
  try {
    const { values } = parseArgs({ args: argv, options: { output: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' } } });
    if (values.help) {
      console.log(USAGE);
      return EXIT.ok;
    }
    const problems: string[] = [];
    output = outputFlag(problems, values.output);
    throwProblems(ctx, problems);
  } catch (err) {
    return failed(ctx, err, USAGE);
  }
  const say = (s: string) => console.log(`\n=== ${s}`);
  let sandbox: OvnSandbox | undefined;
  let dir: string;
  try {
    dir = await mkdtemp(join(tmpdir(), 'ovn-drift-demo-'));
  } catch (err) {
    // e.g. a container with --read-only: say what to do instead of a stack trace.
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'EROFS' ? 'the file system is read-only' : e.code === 'EACCES' ? 'permission denied' : e.message;
    console.error(`${ctx.command}: cannot create a working directory in ${tmpdir()}: ${why}. The demo runs ovsdb-server and ovn-northd and needs a writable temporary directory: set TMPDIR to one (in a container: --tmpfs /tmp).`);
    return EXIT.runtime;
  }
  try {
    say('starting ovsdb-server (NB, SB) and ovn-northd');
    sandbox = await OvnSandbox.start();
    console.log(`NB ${sandbox.nbRemote}   SB ${sandbox.sbRemote}`);

    say(`building ${SEED.router}: ${SEED.vmIp} on ${SEED.vmHostname} (stt ${SEED.vmEncapIp}), ${SEED.otherIp} on ${SEED.otherHostname} (stt ${SEED.otherEncapIp})`);
    console.log(`${SEED.stalePrefix} routed via ${SEED.otherIp}; northd computes the flow; northd stops;`);
    console.log(`then \`ovn-nbctl --wait=sb --may-exist lr-route-add ${SEED.router} ${SEED.stalePrefix} ${SEED.vmIp}\` (times out: nobody answers)`);
    await buildSeedDrift(sandbox);
    const manifest = join(dir, 'podcidrroute.yaml');
    await writeFile(manifest, seedManifest());
    console.log(`\n$ cat ${manifest}\n${seedManifest()}`);
    const loaded = await loadPodCIDRRoutes([manifest]);
    const routes = loaded.routes.map((r) => r.route);
    const flags = { nbRemote: sandbox.nbRemote, sbRemote: sandbox.sbRemote, timeoutMs: 10_000, output } as const;

    const step = async (title: string, repair: boolean) => {
      say(title);
      const dbs = await openOvn(flags);
      try {
        const outcome = await checkWith(dbs, { routes, repair, adopt: false, timeoutMs: flags.timeoutMs });
        printCheck(outcome, output);
        console.log(`(exit status ${outcome.code})`);
        return outcome;
      } finally {
        await dbs.close();
      }
    };

    const first = await step(`ovn-drift check --nb ${sandbox.nbRemote} --sb ${sandbox.sbRemote} -f ${manifest}`, false);
    const stale = first.evaluation.findings.find((f) => f.kind === 'FlowStale' && f.prefix === SEED.stalePrefix);

    say(`ovn-drift trace --router ${SEED.router} 10.9.52.150`);
    {
      const dbs = await openOvn(flags);
      try {
        const { nb, sb } = readViews(dbs);
        console.log(renderTraceText(traceIp(nb, sb, SEED.router, '10.9.52.150')));
      } finally {
        await dbs.close();
      }
    }

    say('restarting ovn-northd: it recomputes the SB from the NB (ovn-drift never writes the SB)');
    await sandbox.startNorthd();
    const healed = await step('ovn-drift check (again)', false);

    say(`someone deletes a route by hand: ovn-nbctl lr-route-del ${SEED.router} ${SEED.prefixes[4]}`);
    await sandbox.nbctl('--wait=sb', 'lr-route-del', SEED.router, SEED.prefixes[4]);
    const missing = await step('ovn-drift check', false);
    const repaired = await step('ovn-drift check --repair (one guarded NB transaction, then wait for the SB)', true);

    const ok =
      stale?.expected.hypervisor?.encapIp === SEED.vmEncapIp &&
      stale.actual.hypervisor?.encapIp === SEED.otherEncapIp &&
      first.evaluation.summary.inSync === 4 &&
      healed.code === EXIT.ok &&
      missing.evaluation.findings.some((f) => f.kind === 'RouteMissing') &&
      repaired.code === EXIT.ok;
    say(ok ? 'demo complete: drift found, explained, healed and repaired' : 'demo did not play out as expected');
    return ok ? EXIT.ok : EXIT.runtime;
  } catch (err) {
    // the demo's contract: 0 when the story played out, 2 otherwise (whatever the error's class)
    console.error(`${ctx.command}: ${(err as Error).message}`);
    return EXIT.runtime;
  } finally {
    if (sandbox) {
      say('stopping the sandbox');
      await sandbox.stop();
    }
    await rm(dir, { recursive: true, force: true });
  }
}
