// StaleView the way it happens: the replica reads from a RAFT follower (as the seed's
// `--no-leader-only` commands did) and that follower is cut off from its cluster.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OvnSandbox, clusterLeader } from '../../operator/sandbox/sandbox.js';
import { openOvn, readViews, type OvnDatabases } from '../../operator/ovn/index.js';
import { evaluate } from '../../operator/drift/index.js';
import { pcr } from '../support/ovn-fixtures.js';

let sandbox: OvnSandbox;
let dbs: OvnDatabases | undefined;

beforeAll(async () => {
  sandbox = await OvnSandbox.start({ cluster: true, northd: false });
});
afterAll(async () => {
  await dbs?.close();
  await sandbox?.stop();
});

describe('StaleView (real RAFT cluster)', () => {
  it('reports StaleView when the NB follower it reads from loses its cluster', async () => {
    await sandbox.nbctl('lr-add', 'r1');
    const leader = await clusterLeader(sandbox, sandbox.nb);
    const follower = sandbox.nb.members.find((m) => m !== leader)!;
    dbs = await openOvn({ nbRemote: follower.tcpRemote, sbRemote: sandbox.sbRemote, timeoutMs: 10_000 });
    const desired = [pcr('a', { router: 'r1', nexthop: '10.0.0.1', cidrs: ['10.1.0.0/16'] })];
    let ev = evaluate(desired, readViews(dbs).nb, readViews(dbs).sb, new Date());
    expect(ev.findings.map((f) => f.kind)).not.toContain('StaleView');

    for (const m of sandbox.nb.members) if (m !== follower) await m.stop();
    for (let i = 0; i < 300 && !dbs.nb.status().stale; i++) await new Promise((r) => setTimeout(r, 100));
    const { nb, sb } = readViews(dbs);
    ev = evaluate(desired, nb, sb, new Date());
    const stale = ev.findings.filter((f) => f.kind === 'StaleView');
    expect(stale.map((f) => f.route)).toEqual(['']);
    expect(stale[0]!.message).toContain(`NB replica cannot be trusted: ${follower.tcpRemote}`);
  });
});
