// StaleView the way it happens: the replica reads from a RAFT follower (as the seed's
// `--no-leader-only` commands did) and that follower is cut off from its cluster. A copy that may
// be stale gives no verdicts: every route is Unknown, only StaleView is said, `check` exits 2 and
// never repairs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OvnSandbox, clusterLeader, type OvsdbServerProcess } from '../../operator/sandbox/sandbox.js';
import { openOvn, readViews, type OvnDatabases } from '../../operator/ovn/index.js';
import { evaluate } from '../../operator/drift/index.js';
import { pcr } from '../support/ovn-fixtures.js';
import { cli, ensureBuilt, parseReport } from '../acceptance/support.js';

let sandbox: OvnSandbox;
let dbs: OvnDatabases | undefined;
let follower: OvsdbServerProcess;
let dir: string;
const desired = [pcr('a', { router: 'r1', nexthop: '10.0.0.1', cidrs: ['10.1.0.0/16', '10.2.0.0/16'] })];

beforeAll(async () => {
  await ensureBuilt();
  sandbox = await OvnSandbox.start({ cluster: true, northd: false });
  dir = mkdtempSync(join(tmpdir(), 'ovn-drift-stale-'));
  writeFileSync(join(dir, 'pcr.yaml'), `apiVersion: ovndrift.io/v1alpha1\nkind: PodCIDRRoute\nmetadata: {name: a}\nspec: {router: r1, nexthop: 10.0.0.1, cidrs: [10.1.0.0/16, 10.2.0.0/16], remediation: Repair}\n`);
});
afterAll(async () => {
  await dbs?.close();
  await sandbox?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('StaleView (real RAFT cluster)', () => {
  it('a follower cut off from its cluster: StaleView only, every route Unknown, no verdict from the stale copy', async () => {
    await sandbox.nbctl('lr-add', 'r1');
    const leader = await clusterLeader(sandbox, sandbox.nb);
    follower = sandbox.nb.members.find((m) => m !== leader)!;
    dbs = await openOvn({ nbRemote: follower.tcpRemote, sbRemote: sandbox.sbRemote, timeoutMs: 10_000 });
    let ev = evaluate(desired, readViews(dbs).nb, readViews(dbs).sb, new Date());
    expect(ev.findings.map((f) => f.kind)).not.toContain('StaleView');
    expect(ev.routes.map((r) => r.state)).toEqual(['Drifted', 'Drifted']); // RouteMissing while fresh

    for (const m of sandbox.nb.members) if (m !== follower) await m.stop();
    for (let i = 0; i < 300 && !dbs.nb.status().stale; i++) await new Promise((r) => setTimeout(r, 100));
    const { nb, sb } = readViews(dbs);
    ev = evaluate(desired, nb, sb, new Date());
    expect(ev.findings.map((f) => [f.kind, f.route])).toEqual([['StaleView', '']]);
    expect(ev.findings[0]!.message).toContain(`NB replica cannot be trusted: ${follower.tcpRemote}`);
    expect(ev.routes.map((r) => [r.prefix, r.state, r.kinds])).toEqual([
      ['10.1.0.0/16', 'Unknown', []],
      ['10.2.0.0/16', 'Unknown', []],
    ]);
    expect(ev.routes[0]!.reason).toContain('cannot be trusted');
  });

  it('check (text and JSON, with --repair) against the cut-off follower: exit 2, only StaleView, nothing written', async () => {
    const args = ['check', '--nb', follower.tcpRemote, '--sb', sandbox.sbRemote, '-f', join(dir, 'pcr.yaml'), '--timeout', '10'];
    const text = await cli(args);
    expect(text.code).toBe(2);
    expect(text.stdout).toContain('StaleView');
    expect(text.stdout).toContain(follower.tcpRemote);
    expect(text.stdout).not.toContain('RouteMissing');
    const json = await cli([...args, '--output', 'json', '--repair']);
    expect(json.code).toBe(2);
    const rep = parseReport(json);
    expect(rep.findings.map((f) => f.kind)).toEqual(['StaleView']);
    expect((rep as unknown as { routes: { state: string }[] }).routes.map((r) => r.state)).toEqual(['Unknown', 'Unknown']);
    expect(rep.summary).not.toHaveProperty('repair'); // no repair was planned from the stale copy
  });
});
