import { describe, expect, it } from 'vitest';
import { planRepair } from '../../operator/drift/index.js';
import { nbView } from '../../operator/ovn/nb.js';
import { NbBuilder, pcr } from '../support/ovn-fixtures.js';

function topo() {
  const nb = new NbBuilder(1, 1);
  const r = nb.router('r1');
  nb.lrp('r1', 'lrp-a', '74:db:d2:00:00:01', ['10.9.0.1/22']);
  return { nb, r };
}
const OWNER = { 'ovndrift.io/owner': 'a', 'ovndrift.io/owner-type': 'PodCIDRRoute' };

describe('planRepair', () => {
  it('inserts a missing route, stamped and guarded, in one transaction', () => {
    const { nb, r } = topo();
    const plan = planRepair([pcr('a', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.52.144/28'] })], nbView(nb));
    expect(plan.touched).toEqual([{ route: 'a', router: 'r1', prefix: '10.9.52.144/28', action: 'insert', to: '10.9.2.146' }]);
    expect(plan.operations.map((o) => o.op)).toEqual(['comment', 'wait', 'wait', 'insert', 'mutate']);
    expect(plan.operations[0]).toEqual({ op: 'comment', comment: 'ovn-drift repair: PodCIDRRoute a (1 change)' });
    expect(plan.operations[1]).toMatchObject({ op: 'wait', table: 'Logical_Router', where: [['_uuid', '==', ['uuid', r]]], rows: [{ name: 'r1' }] });
    expect(plan.operations[2]).toMatchObject({ op: 'wait', where: [['ip_prefix', '==', '10.9.52.144/28']], columns: ['_uuid'], rows: [] });
    expect(plan.operations[3]).toMatchObject({ op: 'insert', row: { ip_prefix: '10.9.52.144/28', nexthop: '10.9.2.146', policy: 'dst-ip', external_ids: ['map', [['ovndrift.io/owner', 'a'], ['ovndrift.io/owner-type', 'PodCIDRRoute']]] } });
  });

  it('fixes an owned row and leaves an unowned wrong row alone without adopt', () => {
    const { nb } = topo();
    const owned = nb.route('r1', '10.1.0.0/16', '10.9.9.9', { externalIds: OWNER });
    nb.route('r1', '10.2.0.0/16', '10.9.9.9');
    const a = pcr('a', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.1.0.0/16', '10.2.0.0/16'] });
    const plan = planRepair([a], nbView(nb));
    expect(plan.touched).toEqual([{ route: 'a', router: 'r1', prefix: '10.1.0.0/16', action: 'update', uuid: owned, from: '10.9.9.9', to: '10.9.2.146' }]);
    expect(plan.skipped.map((s) => s.prefix)).toEqual(['10.2.0.0/16']);
    expect(plan.skipped[0]!.reason).toMatch(/--adopt/);
    const guard = plan.operations.find((o) => o.op === 'wait')!;
    expect(guard).toMatchObject({ where: [['_uuid', '==', ['uuid', owned]]], until: '==', rows: [{ nexthop: '10.9.9.9', ip_prefix: '10.1.0.0/16' }] });
  });

  it('adopts an unowned row with adopt, keeping its other external_ids', () => {
    const { nb } = topo();
    const row = nb.route('r1', '10.2.0.0/16', '10.9.9.9', { externalIds: { note: 'x' } });
    const plan = planRepair([pcr('a', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.2.0.0/16'] })], nbView(nb), { adopt: true });
    expect(plan.touched).toEqual([{ route: 'a', router: 'r1', prefix: '10.2.0.0/16', action: 'adopt', uuid: row, from: '10.9.9.9', to: '10.9.2.146' }]);
    expect(plan.operations.at(-1)).toMatchObject({ op: 'update', row: { nexthop: '10.9.2.146', external_ids: ['map', [['note', 'x'], ['ovndrift.io/owner', 'a'], ['ovndrift.io/owner-type', 'PodCIDRRoute']]] } });
  });

  it('plans nothing when in sync, and skips unknown routers', () => {
    const { nb } = topo();
    nb.route('r1', '10.1.0.0/16', '10.9.2.146', { externalIds: OWNER });
    const plan = planRepair([pcr('a', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.1.0.0/16'] }), pcr('b', { router: 'r9', nexthop: '10.9.2.146', cidrs: ['10.3.0.0/16'] })], nbView(nb));
    expect(plan.operations).toEqual([]);
    expect(plan.skipped.map((s) => s.reason)).toEqual(['no NB Logical_Router named r9']);
  });

  it('removes extra owned rows (duplicates it created)', () => {
    const { nb } = topo();
    nb.route('r1', '10.1.0.0/16', '10.9.2.146', { externalIds: OWNER });
    const dup = nb.route('r1', '10.1.0.0/16', '10.9.9.9', { externalIds: OWNER });
    const plan = planRepair([pcr('a', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.1.0.0/16'] })], nbView(nb));
    expect(plan.touched).toEqual([{ route: 'a', router: 'r1', prefix: '10.1.0.0/16', action: 'remove', uuid: dup, from: '10.9.9.9' }]);
    expect(plan.operations.at(-1)).toMatchObject({ op: 'mutate', mutations: [['static_routes', 'delete', ['set', [['uuid', dup]]]]] });
  });

  it('adopting takes over the prefix: the right unowned row is stamped, unowned ECMP competitors removed', () => {
    const { nb } = topo();
    const good = nb.route('r1', '10.3.0.0/16', '10.9.2.146');
    const other = nb.route('r1', '10.3.0.0/16', '10.9.2.147');
    const theirs = nb.route('r1', '10.3.0.0/16', '10.9.2.148', { externalIds: { 'ovndrift.io/owner': 'someone-else' } });
    const route = pcr('a', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.3.0.0/16'] });
    const without = planRepair([route], nbView(nb));
    expect(without.operations).toEqual([]);
    const plan = planRepair([route], nbView(nb), { adopt: true });
    expect(plan.touched.map((t) => [t.action, t.uuid])).toEqual([['adopt', good], ['remove', other]]);
    expect(plan.skipped[0]!.reason).toMatch(/owned by someone-else left alone/);
    expect(JSON.stringify(plan.operations)).not.toContain(theirs);
  });
});
