// Repair against real ovsdb-server + ovn-northd: NB rows before/after, ownership stamps, unowned
// rows left alone without adopt, adopted with it, and a concurrent change that aborts the
// transaction instead of being overwritten.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RELEASES, describeRelease, itRunsRelease, type Sandbox } from '../support/releases.js';
import { applyRepair, openOvn, readViews, type OvnDatabases } from '../../operator/ovn/index.js';
import { evaluate, planRepair } from '../../operator/drift/index.js';
import { attachSwitchArgs } from '../../operator/ovn/seed-topology.js';
import { pcr } from '../support/ovn-fixtures.js';

let sandbox: Sandbox;
let dbs: OvnDatabases;

/** NB rows of a router as ovn-nbctl sees them: "prefix nexthop owner". */
async function nbRows(router: string): Promise<string[]> {
  const uuids = (await sandbox.nbctl('--bare', '--columns=static_routes', 'list', 'Logical_Router', router)).trim().split(/\s+/).filter(Boolean);
  const rows: string[] = [];
  for (const u of uuids) {
    const [prefix, nexthop, ext] = (await sandbox.nbctl('--bare', '--columns=ip_prefix,nexthop,external_ids', 'list', 'Logical_Router_Static_Route', u)).trim().split('\n').filter((l) => l !== '');
    const owner = /ovndrift\.io\/owner=([^\s]+)/.exec(ext ?? '')?.[1] ?? '-';
    rows.push(`${prefix} ${nexthop} ${owner}`);
  }
  return rows.sort();
}

/** Waits until the replica shows what ovn-nbctl --wait=sb just wrote (by nb_cfg). */
async function caughtUp(): Promise<void> {
  const want = Number((await sandbox.nbctl('get', 'NB_Global', '.', 'nb_cfg')).trim());
  for (let i = 0; i < 500; i++) {
    const { nb, sb } = readViews(dbs);
    if (nb.global.nbCfg >= want && sb.nbCfg >= want) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('replica did not catch up');
}

// One suite per OVN release (test/support/releases.ts); body not re-indented to keep the diff small.
for (const release of RELEASES) describeRelease(release, () => {
beforeAll(async () => {
  sandbox = await release.start();
  await sandbox.sbctl('chassis-add', 'hv-a', 'geneve', '192.0.2.1');
  await sandbox.nbctl(
    'lr-add', 'r1', ...attachSwitchArgs('r1', 'sw1', '0a:00:00:00:00:01', ['10.1.0.1/16']),
    '--', 'lsp-add', 'sw1', 'vm1', '--', 'lsp-set-addresses', 'vm1', '0a:00:00:00:01:01 10.1.0.10',
    '--', 'lsp-add', 'sw1', 'vm2', '--', 'lsp-set-addresses', 'vm2', '0a:00:00:00:01:02 10.1.0.20',
  );
  await sandbox.sbctl('lsp-bind', 'vm1', 'hv-a');
  await sandbox.sbctl('lsp-bind', 'vm2', 'hv-a');
  dbs = await openOvn({ nbRemote: sandbox.nbRemote, sbRemote: sandbox.sbRemote, timeoutMs: 10_000 });
});
afterAll(async () => {
  await dbs?.close();
  await sandbox?.stop();
});

itRunsRelease(release, () => sandbox);

describe('repair on real OVN', () => {
  it('inserts missing routes, fixes owned rows, leaves an unowned wrong row alone, then SB agrees', async () => {
    await sandbox.nbctl('--wait=sb', 'lr-route-add', 'r1', '10.50.2.0/24', '10.1.0.20', '--', 'lr-route-add', 'r1', '10.50.3.0/24', '10.1.0.20');
    const owned = (await sandbox.nbctl('--bare', '--columns=_uuid', 'find', 'Logical_Router_Static_Route', 'ip_prefix="10.50.3.0/24"')).trim();
    await sandbox.nbctl('--wait=sb', 'set', 'Logical_Router_Static_Route', owned, 'external_ids:ovndrift.io/owner=a');
    await caughtUp();
    expect(await nbRows('r1')).toEqual(['10.50.2.0/24 10.1.0.20 -', '10.50.3.0/24 10.1.0.20 a']);

    const desired = [pcr('a', { router: 'r1', nexthop: '10.1.0.10', cidrs: ['10.50.1.0/24', '10.50.2.0/24', '10.50.3.0/24'] })];
    const plan = planRepair(desired, readViews(dbs).nb, { adopt: false });
    const res = await applyRepair(dbs.nb, dbs.sb, plan, { timeoutMs: 10_000 });
    expect(res).toMatchObject({ applied: true, sbSynced: true });

    expect(await nbRows('r1')).toEqual(['10.50.1.0/24 10.1.0.10 a', '10.50.2.0/24 10.1.0.20 -', '10.50.3.0/24 10.1.0.10 a']);
    const comment = await sandbox.nbctl('--bare', '--columns=external_ids', 'find', 'Logical_Router_Static_Route', 'ip_prefix="10.50.1.0/24"');
    expect(comment).toContain('ovndrift.io/owner-type=PodCIDRRoute');
    const { nb, sb } = readViews(dbs);
    const ev = evaluate(desired, nb, sb, new Date());
    expect(ev.findings.map((f) => `${f.kind} ${f.prefix}`)).toEqual(['NexthopMismatch 10.50.2.0/24']);
  });

  it('adopts the unowned row with adopt', async () => {
    const desired = [pcr('a', { router: 'r1', nexthop: '10.1.0.10', cidrs: ['10.50.2.0/24'] })];
    const plan = planRepair(desired, readViews(dbs).nb, { adopt: true });
    expect(plan.touched.map((t) => t.action)).toEqual(['adopt']);
    await applyRepair(dbs.nb, dbs.sb, plan, { timeoutMs: 10_000 });
    expect(await nbRows('r1')).toContain('10.50.2.0/24 10.1.0.10 a');
    const { nb, sb } = readViews(dbs);
    expect(evaluate(desired, nb, sb, new Date()).findings).toEqual([]);
  });

  it('a concurrent change between read and commit aborts the transaction and survives', async () => {
    await sandbox.nbctl('--wait=sb', '--may-exist', 'lr-route-add', 'r1', '10.50.3.0/24', '10.1.0.20'); // owned row drifts
    await caughtUp();
    const desired = [pcr('a', { router: 'r1', nexthop: '10.1.0.10', cidrs: ['10.50.3.0/24', '10.50.4.0/24'] })];
    const plan = planRepair(desired, readViews(dbs).nb); // read...
    expect(plan.touched.map((t) => t.action).sort()).toEqual(['insert', 'update']);
    // ...someone else changes the same row before we commit.
    const uuid = (await sandbox.nbctl('--bare', '--columns=_uuid', 'find', 'Logical_Router_Static_Route', 'ip_prefix="10.50.3.0/24"')).trim();
    await sandbox.nbctl('set', 'Logical_Router_Static_Route', uuid, 'nexthop="10.1.0.99"');
    await expect(applyRepair(dbs.nb, dbs.sb, plan, { timeoutMs: 5_000 })).rejects.toMatchObject({ code: 'TransactionFailed' });
    const rows = await nbRows('r1');
    expect(rows).toContain('10.50.3.0/24 10.1.0.99 a'); // theirs, not overwritten
    expect(rows.some((r) => r.startsWith('10.50.4.0/24'))).toBe(false); // nothing of ours either
  });

  it('a competing route added concurrently for a prefix being inserted aborts the insert', async () => {
    const desired = [pcr('b', { router: 'r1', nexthop: '10.1.0.10', cidrs: ['10.50.5.0/24'] })];
    const plan = planRepair(desired, readViews(dbs).nb);
    await sandbox.nbctl('lr-route-add', 'r1', '10.50.5.0/24', '10.1.0.20');
    await expect(applyRepair(dbs.nb, dbs.sb, plan, { timeoutMs: 5_000 })).rejects.toMatchObject({ code: 'TransactionFailed' });
    expect((await nbRows('r1')).filter((r) => r.startsWith('10.50.5.0/24'))).toEqual(['10.50.5.0/24 10.1.0.20 -']);
  });
});
});
