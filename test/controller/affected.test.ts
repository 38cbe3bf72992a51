// The affected-resource index: an OVSDB change recomputes only the resources indexed under the
// router, prefix, nexthop IP, port or chassis it touches.
import { describe, expect, it } from 'vitest';
import { AffectedIndex, affectedBy, key, specKeys } from '../../operator/controller/affected.js';

describe('AffectedIndex', () => {
  const idx = new AffectedIndex();
  idx.set('a', [...specKeys({ router: 'dev-jr', nexthop: '10.9.2.146', cidrs: ['10.9.52.150/28'] }), key('port', 'vm-146'), key('chassis', 'hv-36')]);
  idx.set('b', specKeys({ router: 'prod', nexthop: 'fd00::2', cidrs: ['fd00:52::/64'] }));
  const hit = (changes: Parameters<typeof affectedBy>[0]) => [...idx.lookup(affectedBy(changes).keys)].sort();

  it('normalises prefixes when indexing', () => {
    expect([...idx.keys('a')]).toContain('prefix:10.9.52.144/28');
  });
  it('maps NB static route, router and port changes to the resources that depend on them', () => {
    expect(hit([{ table: 'Logical_Router_Static_Route', uuid: 'u1', new: { _uuid: 'u1', ip_prefix: '10.9.52.144/28', nexthop: '10.1.1.1' } }])).toEqual(['a']);
    expect(hit([{ table: 'Logical_Router_Static_Route', uuid: 'u2', old: { _uuid: 'u2', ip_prefix: 'fd00:52::/64', nexthop: 'fd00::9' } }])).toEqual(['b']);
    // another prefix pointing at a's nexthop does not concern a
    expect(hit([{ table: 'Logical_Router_Static_Route', uuid: 'u4', new: { _uuid: 'u4', ip_prefix: '10.66.0.0/24', nexthop: '10.9.2.146' } }])).toEqual([]);
    expect(hit([{ table: 'Logical_Router', uuid: 'r', new: { _uuid: 'r', name: 'prod' } }])).toEqual(['b']);
    expect(hit([{ table: 'Logical_Switch_Port', uuid: 'p', new: { _uuid: 'p', name: 'other', addresses: ['0a:00:00:00:00:01 10.9.2.146'] } }])).toEqual(['a']);
    expect(hit([{ table: 'Logical_Router_Static_Route', uuid: 'u3', new: { _uuid: 'u3', ip_prefix: '192.168.0.0/16', nexthop: '10.1.1.1' } }])).toEqual([]);
  });
  it('maps SB flow, binding and chassis changes', () => {
    expect(hit([{ table: 'Logical_Flow', uuid: 'f', new: { _uuid: 'f', match: 'ip4.dst == 10.9.52.144/28', actions: 'reg0 = 10.215.91.233; next;', external_ids: { 'stage-name': 'lr_in_ip_routing' } } }])).toEqual(['a']);
    expect(hit([{ table: 'Port_Binding', uuid: 'pb', new: { _uuid: 'pb', logical_port: 'vm-146' } }])).toEqual(['a']);
    expect(hit([{ table: 'Encap', uuid: 'e', new: { _uuid: 'e', chassis_name: 'hv-36', ip: '10.184.163.36', type: 'geneve' } }])).toEqual(['a']);
  });
  it('flags nb_cfg counters as global and unknown structural tables as all', () => {
    expect(affectedBy([{ table: 'SB_Global', uuid: 'g', new: { _uuid: 'g', nb_cfg: 4 } }]).global).toBe(true);
    expect(affectedBy([{ table: 'Datapath_Binding', uuid: 'd', new: { _uuid: 'd' } }]).all).toBe(true);
  });
  it('forgets a deleted resource', () => {
    idx.delete('b');
    expect(hit([{ table: 'Logical_Router', uuid: 'r', new: { _uuid: 'r', name: 'prod' } }])).toEqual([]);
  });
});

describe('change identities from the OVN model (policies, port_security, virtual ports, MAC_Binding)', () => {
  const change = (table: string, row: Record<string, unknown>) => affectedBy([{ table, uuid: String(row._uuid ?? 'u1'), new: { _uuid: 'u1', ...row } } as never]);
  it('maps each row to exactly the identities routes depend on', () => {
    expect([...change('Logical_Router_Policy', { _uuid: 'p1', priority: 100, match: 'ip4.dst == 10.0.0.0/24', action: 'drop' }).keys]).toEqual(['policy:p1']);
    expect([...change('Logical_Switch_Port', { name: 'vm1', type: '', addresses: ['0a:00:00:00:00:01 10.0.0.5'], port_security: ['0a:00:00:00:00:01 10.0.0.5 10.0.0.50'], options: {} }).keys].sort()).toEqual(['nexthop:10.0.0.5', 'nexthop:10.0.0.50', 'port:vm1']);
    expect([...change('Logical_Switch_Port', { name: 'vip', type: 'virtual', addresses: [], options: { 'virtual-ip': '10.0.0.60', 'virtual-parents': 'vm1,vm2' } }).keys].sort()).toEqual(['infra:virtual', 'nexthop:10.0.0.60', 'port:vip', 'port:vm1', 'port:vm2']);
    expect([...change('MAC_Binding', { logical_port: 'lrp-a', ip: '10.0.0.70', mac: '0a:00:00:00:00:70' }).keys].sort()).toEqual(['nexthop:10.0.0.70', 'port:lrp-a']);
    expect([...change('Port_Binding', { logical_port: 'vip', virtual_parent: ['vm2'] }).keys].sort()).toEqual(['port:vip', 'port:vm2']);
  });
});
