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
