// Stream framing: synthetic tricky values and a stream recorded from a real ovsdb-server, cut at
// every byte boundary, in one-byte chunks and at random; huge values.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConnection } from 'node:net';
import { JsonStreamFramer } from '../../operator/ovsdb/framing.js';
import { OvnSandbox } from '../../operator/sandbox/sandbox.js';

function frameAll(chunks: Buffer[], opts?: ConstructorParameters<typeof JsonStreamFramer>[1]): unknown[] {
  const out: unknown[] = [];
  const f = new JsonStreamFramer((m) => out.push(m), opts);
  for (const c of chunks) f.push(c);
  expect(f.idle).toBe(true);
  return out;
}

function cutAt(buf: Buffer, positions: number[]): Buffer[] {
  const out: Buffer[] = [];
  let last = 0;
  for (const p of [...positions].sort((a, b) => a - b)) {
    out.push(buf.subarray(last, p));
    last = p;
  }
  out.push(buf.subarray(last));
  return out.filter((c) => c.length > 0);
}

function oneByteChunks(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i++) out.push(buf.subarray(i, i + 1));
  return out;
}

/** Deterministic PRNG so a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function randomChunks(buf: Buffer, seed: number, maxChunk: number): Buffer[] {
  const r = rng(seed);
  const out: Buffer[] = [];
  let i = 0;
  while (i < buf.length) {
    const n = 1 + Math.floor(r() * maxChunk);
    out.push(buf.subarray(i, i + n));
    i += n;
  }
  return out;
}

const tricky: unknown[] = [
  { id: 1, result: ['OVN_Northbound', '_Server'], error: null },
  { id: null, method: 'update2', params: ['m', { T: { 'a-b': { modify: { s: 'brace } and { and ] [ inside', q: 'quote \\" \\\\" end' } } } }] },
  { id: 'echo', method: 'echo', params: [] },
  { id: 2, result: [{ rows: [{ name: 'héllo wörld ☃ 𝄞 日本語', external_ids: ['map', [['k"1', 'v\\'], ['\\', '"']]] }] }], error: null },
  { id: 3, result: { deep: { a: { b: { c: [1, 2.5, -3e10, true, false, null, '', '\\\\\\'] } } } }, error: null },
  { id: 4, result: [], error: null },
  { id: 5, result: {}, error: null },
  JSON.parse('{"id":6,"result":{"__proto__":{"polluted":true},"x":"\\u0000\\u001f\\u2028"},"error":null}'),
];

describe('JsonStreamFramer', () => {
  const stream = Buffer.from(tricky.map((m) => JSON.stringify(m)).join(' \n\t'), 'utf8');
  const expected = tricky.map((m) => JSON.parse(JSON.stringify(m)));

  it('frames concatenated values in one chunk', () => {
    expect(frameAll([stream])).toEqual(expected);
  });

  it('frames values cut at every byte boundary (two pieces) and in one-byte chunks', () => {
    for (let p = 1; p < stream.length; p++) expect(frameAll(cutAt(stream, [p]))).toEqual(expected);
    expect(frameAll(oneByteChunks(stream))).toEqual(expected);
  });

  it('gives the same result for every unit depth', () => {
    for (const unitDepth of [1, 2, 3, 4, 6]) {
      expect(frameAll(oneByteChunks(stream), { unitDepth })).toEqual(expected);
      expect(frameAll(randomChunks(stream, unitDepth, 7), { unitDepth })).toEqual(expected);
    }
  });

  it('does not let a "__proto__" key change the prototype', () => {
    const [, , , , , , , last] = frameAll([stream]) as Record<string, Record<string, unknown>>[];
    expect(Object.getPrototypeOf(last!.result)).toBe(Object.prototype);
    expect(Object.getOwnPropertyNames(last!.result)).toContain('__proto__');
  });

  it('hands each unit to onUnit with its path and stores what it returns', () => {
    const msg = { id: 7, result: { T: { u1: { initial: { a: 1 } }, u2: { initial: { a: 2 } } } }, error: null };
    const seen: string[] = [];
    const out = frameAll(oneByteChunks(Buffer.from(JSON.stringify(msg))), {
      onUnit: (path, v) => {
        seen.push(path.join('/'));
        return { wrapped: v };
      },
    });
    expect(seen).toEqual(['result/T/u1', 'result/T/u2']);
    expect(out).toEqual([{ id: 7, result: { T: { u1: { wrapped: { initial: { a: 1 } } }, u2: { wrapped: { initial: { a: 2 } } } } }, error: null }]);
  });

  it('handles a backslash run that ends exactly at a chunk boundary', () => {
    const msg = { id: 1, result: ['a\\', '\\\\', '\\"', 'x\\\\\\"y'], error: null };
    const buf = Buffer.from(JSON.stringify(msg));
    for (let p = 1; p < buf.length; p++) {
      for (let q = p + 1; q < Math.min(buf.length, p + 4); q++) expect(frameAll(cutAt(buf, [p, q]))).toEqual([msg]);
    }
  });

  it('frames huge values: a 16 MB string and a message of 100,000 rows', () => {
    const big = 'x"\\é'.repeat(4 << 20);
    const m1 = { id: 1, result: [{ rows: [{ s: big }] }], error: null };
    const rows: Record<string, unknown> = {};
    for (let i = 0; i < 100_000; i++) rows[`00000000-0000-0000-0000-${String(i).padStart(12, '0')}`] = { initial: { match: `ip4.dst == 10.${i >> 16}.${(i >> 8) & 255}.${i & 255}/32`, priority: i } };
    const m2 = { id: 2, result: { Logical_Flow: rows }, error: null };
    const buf = Buffer.concat([Buffer.from(JSON.stringify(m1)), Buffer.from(JSON.stringify(m2))]);
    const out = frameAll(randomChunks(buf, 42, 65536)) as [typeof m1, typeof m2];
    expect(out).toHaveLength(2);
    expect(out[0].result[0]!.rows[0]!.s).toBe(big);
    expect(Object.keys(out[1].result.Logical_Flow)).toHaveLength(100_000);
    expect(out[1]).toEqual(m2);
  });

  it('rejects malformed input with a Protocol error naming the offset', () => {
    const f = new JsonStreamFramer(() => undefined);
    expect(() => f.push(Buffer.from('{"id":1,,}'))).toThrow(/byte 8/);
    const g = new JsonStreamFramer(() => undefined);
    let err: unknown;
    try {
      g.push(Buffer.from('42 '));
    } catch (e) {
      err = e;
    }
    expect((err as { code?: string }).code).toBe('Protocol');
  });
});

describe('JsonStreamFramer on a stream recorded from ovsdb-server', () => {
  let sandbox: OvnSandbox;
  let recorded: Buffer;
  let messages: unknown[];

  beforeAll(async () => {
    sandbox = await OvnSandbox.start({ northd: false });
    // rows with strings that stress the framer: braces, quotes, backslashes, multibyte UTF-8
    await sandbox.nbctl('--no-wait', 'lr-add', 'r{1}');
    await sandbox.nbctl('--no-wait', 'set', 'Logical_Router', 'r{1}', 'external_ids:note="q\\"uo}te ☃ 𝄞"', 'external_ids:path=C:\\\\x\\\\');
    for (let i = 0; i < 50; i++) await sandbox.nbctl('--no-wait', 'lr-route-add', 'r{1}', `10.${i}.0.0/16`, `192.168.0.${i + 1}`);
    const requests = [
      { method: 'list_dbs', params: [], id: 1 },
      { method: 'get_schema', params: ['OVN_Northbound'], id: 2 },
      { method: 'monitor_cond', params: ['OVN_Northbound', 'm', { Logical_Router: [{}], Logical_Router_Static_Route: [{}] }], id: 3 },
      { method: 'echo', params: ['x{"\\'], id: 4 },
    ];
    recorded = await record(sandbox.nb.members[0]!.tcpRemote, requests);
    messages = JSON.parse(`[${recorded.toString('utf8').replace(/}\s*{/g, '},{')}]`) as unknown[];
  });
  afterAll(async () => {
    await sandbox?.stop();
  });

  it('recorded the replies', () => {
    expect(messages.map((m) => (m as { id: unknown }).id)).toEqual([1, 2, 3, 4]);
  });

  it('frames the recording in one-byte chunks, random chunks and at every cut near each message edge', () => {
    expect(frameAll([recorded])).toEqual(messages);
    expect(frameAll(oneByteChunks(recorded))).toEqual(messages);
    for (let seed = 1; seed <= 30; seed++) expect(frameAll(randomChunks(recorded, seed, 1 + seed * 50))).toEqual(messages);
    // two-piece cuts at every byte boundary of the last 2 kB (the end of the monitor reply and the echo)
    const start = recorded.length - Buffer.byteLength(JSON.stringify(messages[3])) - 2000;
    for (let p = Math.max(1, start); p < recorded.length; p++) expect(frameAll(cutAt(recorded, [p]))).toEqual(messages);
  });
});

/** Sends requests on one raw socket and returns every byte the server sent until the last reply. */
async function record(remote: string, requests: { id: number }[]): Promise<Buffer> {
  const [, host, port] = remote.split(':');
  const sock = createConnection({ host: host!, port: Number(port) });
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    sock.on('error', reject);
    sock.on('connect', () => sock.write(requests.map((r) => JSON.stringify(r)).join('')));
    sock.on('data', (c: Buffer) => {
      chunks.push(c);
      // the last reply is the echo, whose id is 4: stop once it has fully arrived
      const all = Buffer.concat(chunks).toString('utf8');
      if (/"id":4[,}]/.test(all) && all.trimEnd().endsWith('}')) {
        try {
          JSON.parse(`[${all.replace(/}\s*{/g, '},{')}]`);
          resolve();
        } catch {
          /* not complete yet */
        }
      }
    });
  });
  sock.destroy();
  return Buffer.concat(chunks);
}
