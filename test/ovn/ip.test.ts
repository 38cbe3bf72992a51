import { describe, expect, it } from 'vitest';
import { parseIp, formatIp, parsePrefix, prefixContains, sameIp, comparePrefixText } from '../../operator/ovn/ip.js';

describe('ip', () => {
  it('parses and formats IPv4 and IPv6 canonically', () => {
    expect(formatIp(parseIp('10.9.2.146')!)).toBe('10.9.2.146');
    expect(formatIp(parseIp('FD00:0009:0:0:0:0:0:0146')!)).toBe('fd00:9::146');
    expect(formatIp(parseIp('::ffff:10.1.2.3')!)).toBe('::ffff:a01:203');
    expect(formatIp(parseIp('1:0:0:2:0:0:0:3')!)).toBe('1:0:0:2::3');
    for (const bad of ['10.9.2', '10.9.2.256', '01.2.3.4', 'fd00:::1', '1:2:3:4:5:6:7:8:9', 'x', '']) expect(parseIp(bad)).toBeUndefined();
  });
  it('normalises prefixes and tests containment', () => {
    const p = parsePrefix('10.9.52.150/28')!;
    expect([p.text, p.hadHostBits]).toEqual(['10.9.52.144/28', true]);
    expect(parsePrefix('fd00:52::7/64')!.text).toBe('fd00:52::/64');
    expect(parsePrefix('0.0.0.0/0')!.text).toBe('0.0.0.0/0');
    expect(parsePrefix('10.0.0.0/33')).toBeUndefined();
    expect(prefixContains(p, parseIp('10.9.52.159')!)).toBe(true);
    expect(prefixContains(p, parseIp('10.9.52.160')!)).toBe(false);
    expect(sameIp('fd00:9::146', 'fd00:9:0::0146')).toBe(true);
    expect(['10.10.0.0/16', '10.9.0.0/16', 'fd00::/8', '10.9.0.0/8'].sort(comparePrefixText)).toEqual(['10.9.0.0/8', '10.9.0.0/16', '10.10.0.0/16', 'fd00::/8']);
  });
});
