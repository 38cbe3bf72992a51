import { describe, expect, it } from 'vitest';
import { parseRoutingActions, parseRoutingMatch, parseEcmpMemberMatch, parseRoutingPre } from '../../operator/ovn/flows.js';

// Action texts as ovn-northd writes them (23.03 captured from the sandbox; 25.03 per its release notes).
const V4_2303 = 'ip.ttl--; reg8[0..15] = 0; reg0 = 10.215.91.233; reg1 = 10.215.88.1; eth.src = 74:db:d2:19:e7:6b; outport = "lrp-dev-jr-to-sw-10.215.88.0-22"; flags.loopback = 1; next;';
const V6_2303 = 'ip.ttl--; reg8[0..15] = 0; xxreg0 = fd00:9::146; xxreg1 = fd00:9::1; eth.src = 74:db:d2:00:00:01; outport = "lrp-a"; flags.loopback = 1; next;';
const V4_2503 = 'ip.ttl--; reg8[0..15] = 0; reg0 = 10.215.91.233; reg5 = 10.215.88.1; eth.src = 74:db:d2:19:e7:6b; outport = "lrp-b"; flags.loopback = 1; reg9[9] = 1; next;';
const V6_2503 = 'ip.ttl--; reg8[0..15] = 0; xxreg0 = fd00:9:0::0146; xxreg1 = fd00:9::1; eth.src = 74:db:d2:00:00:01; outport = "lrp-a"; flags.loopback = 1; reg9[9] = 0; next;';
const ECMP = 'ip.ttl--; flags.loopback = 1; reg8[0..15] = 1; reg8[16..31] = select(1, 2);';

describe('routing flow parsing', () => {
  it('reads the 22.03–24.09 IPv4 form', () => {
    expect(parseRoutingActions(V4_2303)).toEqual({ kind: 'nexthop', nexthop: '10.215.91.233', source: '10.215.88.1', outport: 'lrp-dev-jr-to-sw-10.215.88.0-22', ethSrc: '74:db:d2:19:e7:6b' });
  });
  it('reads the 22.03–24.09 IPv6 form (xxreg0/xxreg1)', () => {
    expect(parseRoutingActions(V6_2303)).toMatchObject({ kind: 'nexthop', nexthop: 'fd00:9::146', source: 'fd00:9::1', outport: 'lrp-a' });
  });
  it('reads the 25.03 IPv4 form (reg5 source, reg9[9])', () => {
    expect(parseRoutingActions(V4_2503)).toMatchObject({ kind: 'nexthop', nexthop: '10.215.91.233', source: '10.215.88.1', outport: 'lrp-b' });
  });
  it('reads the 25.03 IPv6 form and canonicalises the nexthop', () => {
    expect(parseRoutingActions(V6_2503)).toMatchObject({ kind: 'nexthop', nexthop: 'fd00:9::146', source: 'fd00:9::1' });
  });
  it('reads ECMP groups, weighted selects and member flows', () => {
    expect(parseRoutingActions(ECMP)).toEqual({ kind: 'ecmp', group: 1, members: [1, 2] });
    expect(parseRoutingActions('reg8[0..15] = 3; reg8[16..31] = select(1=100, 2=50, 3=1);')).toEqual({ kind: 'ecmp', group: 3, members: [1, 2, 3] });
    expect(parseEcmpMemberMatch('reg8[0..15] == 1 && reg8[16..31] == 2')).toEqual({ group: 1, member: 2 });
    expect(parseEcmpMemberMatch('reg8[0..15] == 0')).toBeUndefined();
    expect(parseRoutingActions('reg0 = 10.9.2.146; reg1 = 10.9.0.1; eth.src = 74:db:d2:00:00:01; outport = "lrp-a"; next;')).toMatchObject({ kind: 'nexthop', nexthop: '10.9.2.146' });
  });
  it('tells connected routes and drops apart', () => {
    expect(parseRoutingActions('ip.ttl--; reg8[0..15] = 0; xxreg0 = ip6.dst; xxreg1 = fd00:9::1; eth.src = 74:db:d2:00:00:01; outport = "lrp-a"; flags.loopback = 1; next;')).toMatchObject({ kind: 'connected', outport: 'lrp-a' });
    expect(parseRoutingActions('drop;')).toEqual({ kind: 'drop' });
  });
  it('reads matches: route table, direction, normalised prefix', () => {
    expect(parseRoutingMatch('reg7 == 0 && ip4.dst == 10.9.52.144/28')).toMatchObject({ direction: 'dst', routeTableId: 0, prefix: { text: '10.9.52.144/28' } });
    expect(parseRoutingMatch('reg7 == 2 && ip6.dst == fd00:52::1/64')).toMatchObject({ direction: 'dst', routeTableId: 2, prefix: { text: 'fd00:52::/64' } });
    expect(parseRoutingMatch('ip4.src == 10.9.60.0/24')).toMatchObject({ direction: 'src', prefix: { text: '10.9.60.0/24' } });
    expect(parseRoutingMatch('ip4.dst == 10.9.52.144/255.255.255.240')!.prefix.text).toBe('10.9.52.144/28');
    expect(parseRoutingMatch('ip6.dst == fd00:9::/64')!.routeTableId).toBeUndefined();
    expect(parseRoutingMatch('nd_rs || nd_ra')).toBeUndefined();
    expect(parseRoutingMatch('1')).toBeUndefined();
  });
  it('reads the route table ids of lr_in_ip_routing_pre', () => {
    expect(parseRoutingPre('inport == "lrp-b"', 'reg7 = 1; next;')).toEqual({ inport: 'lrp-b', routeTableId: 1 });
    expect(parseRoutingPre('1', 'reg7 = 0; next;')).toBeUndefined();
  });
});
