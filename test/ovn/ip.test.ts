import { describe, expect, it } from 'vitest';
import { parseIp, formatIp, parsePrefix, prefixContains, sameIp, comparePrefixText, memo, setParseMemoGeneration } from '../../operator/ovn/ip.js';

describe('ip', () => {
  it('parses and formats IPv4 and IPv6 canonically', () => {
    expect(formatIp(parseIp('10.9.2.146')!)).toBe('10.9.2.146');
    expect(formatIp(parseIp('FD00:0009:0:0:0:0:0:0146')!)).toBe('fd00:9::146');
    expect(formatIp(parseIp('::ffff:10.1.2.3')!)).toBe('::ffff:a01:203');
    expect(formatIp(parseIp('1:0:0:2:0:0:0:3')!)).toBe('1:0:0:2::3');
    for (const bad of ['10.9.2', '10.9.2.256', '01.2.3.4', 'fd00:::1', '1:2:3:4:5:6:7:8:9', 'x', '']) expect(parseIp(bad)).toBeUndefined();
  });
  it('parses IPv4 prefixes (the 32-bit fast path) as the address parser and mask would', () => {
    const viaAddress = (text: string, len: number) => {
      const a = parseIp(text)!;
      const net = len === 0 ? 0n : (a.value >> BigInt(32 - len)) << BigInt(32 - len);
      return { family: 4, network: net, length: len, text: `${formatIp({ family: 4, value: net })}/${len}`, hadHostBits: net !== a.value };
    };
    for (const [addr, len] of [['10.9.52.145', 28], ['0.0.0.0', 0], ['1.2.3.4', 0], ['255.255.255.255', 32], ['128.0.0.1', 1], ['192.168.1.1', 31], ['10.0.0.0', 8]] as const) {
      expect(parsePrefix(`${addr}/${len}`)).toEqual(viaAddress(addr, len));
    }
    expect(parsePrefix('255.255.255.255')).toEqual(viaAddress('255.255.255.255', 32));
    expect(parsePrefix(' 10.0.0.0 /24')).toEqual(viaAddress('10.0.0.0', 24));
    for (const bad of ['10.0.0.0/33', '10.0.0/8', '01.2.3.4/8', '1.2.3.4/', '1.2.3.4/1000', '256.1.1.1/8', '10.0.0.0/ 24', 'a.b.c.d/8', '']) expect(parsePrefix(bad)).toBeUndefined();
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

describe('parse memo: bounded, and a working set as large as a generation does not thrash', () => {
  it('keeps every entry of a cyclic working set of one generation cached, and stays bounded', () => {
    let calls = 0;
    const f = memo((s: string) => {
      calls++;
      return { s };
    }, 100);
    const keys = Array.from({ length: 100 }, (_, i) => `10.0.${i}.0/24`);
    for (const k of keys) f(k);
    expect(calls).toBe(100);
    // cycling over the same 100 texts again (routes, then the flows that repeat them): all hits
    for (let round = 0; round < 5; round++) for (const k of keys) f(k);
    expect(calls).toBe(100);
    // the same working set while new texts keep arriving (a cache dropped whole when full would
    // recompute the working set every few rounds)
    const seen: string[] = [];
    const g = memo((s: string) => {
      seen.push(s);
      return s.length;
    }, 100);
    const work = Array.from({ length: 60 }, (_, i) => `w${i}`);
    for (let round = 0; round < 20; round++) {
      for (const k of work) g(k);
      for (let j = 0; j < 20; j++) g(`new-${round}-${j}`);
    }
    expect(seen.filter((s) => s.startsWith('w')).length).toBe(60);
    // the shared result is the same object on a hit
    expect(f(keys[3]!)).toBe(f(keys[3]!));
    // bounded: 1,000 distinct texts compute each once and old ones are eventually recomputed
    for (let i = 0; i < 1000; i++) f(`x${i}`);
    const before = calls;
    f(keys[0]!);
    expect(calls).toBe(before + 1);
  });

  it('setParseMemoGeneration bounds the memos already made (the operator keeps them small)', () => {
    let calls = 0;
    const f = memo((s: string) => {
      calls++;
      return s;
    });
    try {
      setParseMemoGeneration(10);
      for (let i = 0; i < 25; i++) f(`a${i}`);
      // 25 texts in generations of 10: the first ones were dropped two rotations ago
      f('a0');
      expect(calls).toBe(26);
      f('a24');
      expect(calls).toBe(26);
    } finally {
      setParseMemoGeneration(1 << 19);
    }
  });

  it('gives the same results as the uncached parse', () => {
    expect(parsePrefix('10.1.2.3/16')?.text).toBe('10.1.0.0/16');
    expect(parsePrefix('10.1.2.3/16')?.text).toBe('10.1.0.0/16');
    expect(parsePrefix('nope')).toBeUndefined();
    expect(parsePrefix('nope')).toBeUndefined();
  });
});
