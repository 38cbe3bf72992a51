// OvsdbClient against real NB/SB ovsdb-servers (and a scripted peer for echo, probe and timeouts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server, type Socket } from 'node:net';
import { OvnSandbox } from '../../operator/sandbox/sandbox.js';
import {
  OvsdbClient,
  OvsdbError,
  TransactionFailedError,
  map,
  namedUuid,
  set,
  uuid,
  type Condition,
  type Operation,
  type TableUpdates,
} from '../../operator/ovsdb/index.js';

const NB = 'OVN_Northbound';

describe('OvsdbClient on a real ovsdb-server', () => {
  let sandbox: OvnSandbox;
  let client: OvsdbClient;

  beforeAll(async () => {
    sandbox = await OvnSandbox.start({ northd: false });
    client = await OvsdbClient.connect(sandbox.nbRemote);
  });
  afterAll(async () => {
    await client?.close();
    await sandbox?.stop();
  });

  it('lists databases and reads the schema, over tcp and unix', async () => {
    expect(await client.listDbs()).toEqual(expect.arrayContaining([NB, '_Server']));
    const schema = await client.getSchema(NB);
    expect(schema.tables.Logical_Router!.columns.static_routes!.type).toMatchObject({ key: { type: 'uuid', refTable: 'Logical_Router_Static_Route' }, min: 0, max: 'unlimited' });
    const viaUnix = await OvsdbClient.connect(sandbox.nb.members[0]!.unixRemote);
    expect(await viaUnix.listDbs()).toContain(NB);
    await viaUnix.close();
  });

  it('transacts insert/update/mutate/delete/wait/comment with uuid, named-uuid, set and map atoms', async () => {
    const ops: Operation[] = [
      { op: 'comment', comment: 'ovn-drift test' },
      { op: 'insert', table: 'Logical_Router_Static_Route', 'uuid-name': 'rt', row: { ip_prefix: '10.9.52.144/28', nexthop: '10.9.2.146', external_ids: map({ owner: 'ovn-drift' }) } },
      { op: 'insert', table: 'Logical_Router', 'uuid-name': 'lr', row: { name: 'dev-jr', static_routes: set([namedUuid('rt')]), options: map({ 'always_learn_from_arp_request': 'false' }) } },
    ];
    const res = (await client.transact(NB, ops)) as { uuid?: [string, string] }[];
    const routeUuid = res[1]!.uuid![1];
    const routerUuid = res[2]!.uuid![1];
    expect(await sandbox.nbctl('lr-route-list', 'dev-jr')).toContain('10.9.52.144/28');

    const where: Condition[] = [['_uuid', '==', uuid(routerUuid)]];
    await client.transact(NB, [
      { op: 'wait', table: 'Logical_Router', where, columns: ['name'], until: '==', rows: [{ name: 'dev-jr' }], timeout: 0 },
      { op: 'update', table: 'Logical_Router', where, row: { enabled: set([true]) } },
      { op: 'mutate', table: 'Logical_Router', where, mutations: [['external_ids', 'insert', map({ a: '1', b: '2' })]] },
      { op: 'mutate', table: 'Logical_Router_Static_Route', where: [['_uuid', '==', uuid(routeUuid)]], mutations: [['external_ids', 'delete', set(['owner'])]] },
    ]);
    const sel = (await client.transact(NB, [{ op: 'select', table: 'Logical_Router', where, columns: ['enabled', 'external_ids', 'static_routes'] }])) as { rows: unknown[] }[];
    expect(sel[0]!.rows[0]).toEqual({ enabled: true, external_ids: ['map', [['a', '1'], ['b', '2']]], static_routes: ['uuid', routeUuid] });
    expect((await sandbox.nbctl('get', 'Logical_Router_Static_Route', routeUuid, 'external_ids')).trim()).toBe('{}');

    await client.transact(NB, [{ op: 'delete', table: 'Logical_Router', where }]);
    expect((await sandbox.nbctl('lr-list')).trim()).toBe('');
  });

  it('turns per-operation errors into typed errors, including the commit entry', async () => {
    const failed = async (ops: Operation[]): Promise<TransactionFailedError> => {
      try {
        await client.transact(NB, ops);
      } catch (err) {
        expect(err).toBeInstanceOf(TransactionFailedError);
        return err as TransactionFailedError;
      }
      throw new Error('transaction unexpectedly succeeded');
    };
    const wait = await failed([{ op: 'wait', table: 'NB_Global', where: [], columns: ['nb_cfg'], until: '==', rows: [{ nb_cfg: 12345 }], timeout: 0 }]);
    expect(wait.errors.map((e) => [e.code, e.op, e.index])).toEqual([['WaitTimedOut', 'wait', 0]]);
    // NB_Global has maxRows 1: the insert itself succeeds, the commit fails
    const commit = await failed([{ op: 'insert', table: 'NB_Global', row: {} }]);
    expect(commit.errors.map((e) => [e.code, e.op, e.index])).toEqual([['ConstraintViolation', 'commit', 1]]);
    const ref = await failed([{ op: 'insert', table: 'Logical_Router', row: { name: 'x', static_routes: set([uuid('0bad0bad-0000-0000-0000-000000000000')]) } }]);
    expect(ref.errors[0]!.code).toBe('ReferentialIntegrityViolation');
    expect(ref.code).toBe('TransactionFailed');
    expect((await sandbox.nbctl('lr-list')).trim()).toBe('');
  });

  it('monitors with monitor_cond, receives update2 and follows a condition change', async () => {
    const updates: TableUpdates[] = [];
    client.on('update', (id: unknown, tu: TableUpdates) => {
      if (id === 'm1') updates.push(tu);
    });
    await sandbox.nbctl('--no-wait', 'lr-add', 'a1');
    const initial = await client.monitorCond(NB, 'm1', { Logical_Router: { columns: ['name', 'external_ids'], where: [['name', '==', 'a1']] } });
    expect([...initial.get('Logical_Router')!.values()].map((u) => (u as { initial: { name: string } }).initial.name)).toEqual(['a1']);
    await sandbox.nbctl('--no-wait', 'lr-add', 'b1');
    await sandbox.nbctl('--no-wait', 'set', 'Logical_Router', 'a1', 'external_ids:k=v');
    await until(() => updates.length >= 1);
    // b1 does not match: only the modify of a1 arrives, as a map difference
    expect(updates.flatMap((u) => [...(u.get('Logical_Router')?.values() ?? [])])).toEqual([{ modify: { external_ids: { k: 'v' } } }]);
    await client.monitorCondChange('m1', { Logical_Router: [['name', '==', 'b1']] });
    // the change's update arrives before the reply: a1 leaves, b1 enters
    const last = updates[updates.length - 1]!.get('Logical_Router')!;
    expect([...last.values()].map((u) => Object.keys(u)[0]).sort()).toEqual(['delete', 'insert']);
    await client.monitorCancel('m1');
  });
});

describe('OvsdbClient against a scripted peer', () => {
  let server: Server;
  let port = 0;
  const peers: Socket[] = [];
  let onPeer: (s: Socket) => void = () => undefined;

  beforeAll(async () => {
    server = createServer((s) => {
      peers.push(s);
      onPeer(s);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    for (const p of peers) p.destroy();
    await new Promise((r) => server.close(r));
  });

  it("answers the server's echo", async () => {
    const got = new Promise<string>((resolve) => {
      onPeer = (s) => {
        s.on('data', (d) => resolve(d.toString()));
        s.write('{"id":"echo","method":"echo","params":["ping"]}');
      };
    });
    const c = await OvsdbClient.connect(`tcp:127.0.0.1:${port}`);
    expect(JSON.parse(await got)).toEqual({ id: 'echo', result: ['ping'], error: null });
    await c.close();
  });

  it('fails pending requests with Disconnected when the connection drops, and times out silent requests', async () => {
    onPeer = (s) => s.on('data', () => undefined);
    const c = await OvsdbClient.connect(`tcp:127.0.0.1:${port}`, { requestTimeoutMs: 200, probeIntervalMs: 0 });
    await expect(c.listDbs()).rejects.toMatchObject({ code: 'Timeout' });
    const pending = c.getSchema('X');
    peers[peers.length - 1]!.destroy();
    const err = (await pending.catch((e: unknown) => e)) as OvsdbError;
    expect(err.code).toBe('Disconnected');
    expect(err.message).toMatch(/get_schema to tcp:127\.0\.0\.1:\d+ failed: connection to tcp:\S+ (closed|failed)/);
    await expect(c.listDbs()).rejects.toMatchObject({ code: 'Disconnected' });
  });

  it('closes a connection whose peer stops answering the inactivity probe', async () => {
    onPeer = () => undefined;
    const c = await OvsdbClient.connect(`tcp:127.0.0.1:${port}`, { probeIntervalMs: 100 });
    const closed = new Promise<OvsdbError>((r) => c.once('close', r));
    expect((await closed).code).toBe('Timeout');
  });

  it('keeps a connection whose server is slow to answer a monitor: no request timeout, no probe drop', async () => {
    // like ovsdb-server building a 100 MB initial reply: silent for longer than the request
    // timeout and the probe, then the reply arrives in pieces
    onPeer = (s) =>
      s.on('data', (d) => {
        const req = JSON.parse(d.toString()) as { id: number; method: string };
        if (req.method !== 'monitor_cond') return; // echo probes go unanswered: the server is busy
        const body = JSON.stringify({ id: req.id, result: { T: { '00000000-0000-0000-0000-000000000001': { initial: { name: 'a' } } } }, error: null });
        const third = Math.ceil(body.length / 3);
        setTimeout(() => s.write(body.slice(0, third)), 400);
        setTimeout(() => s.write(body.slice(third, 2 * third)), 700);
        setTimeout(() => s.write(body.slice(2 * third)), 1000);
      });
    const c = await OvsdbClient.connect(`tcp:127.0.0.1:${port}`, { requestTimeoutMs: 200, probeIntervalMs: 100, monitorTimeoutMs: 500 });
    let closed: OvsdbError | undefined;
    c.once('close', (e: OvsdbError) => (closed = e));
    const rows = await c.monitorCond('X', 'm', { T: { columns: ['name'] } });
    expect(rows.get('T')?.get('00000000-0000-0000-0000-000000000001')).toEqual({ initial: { name: 'a' } });
    expect(closed).toBeUndefined();
    expect(c.closed).toBe(false);
    await c.close();
  });

  it('fails a monitor request when nothing at all arrives for the monitor timeout', async () => {
    onPeer = (s) => s.on('data', () => undefined);
    const c = await OvsdbClient.connect(`tcp:127.0.0.1:${port}`, { probeIntervalMs: 0, monitorTimeoutMs: 200 });
    const err = (await c.monitorCond('X', 'm', { T: {} }).catch((e: unknown) => e)) as OvsdbError;
    expect(err.code).toBe('Timeout');
    expect(err.message).toMatch(/monitor_cond to tcp:\S+: nothing received for 200 ms/);
    await c.close();
  });

  it('names every remote it could not reach, and rejects bad remotes', async () => {
    const dead = `tcp:127.0.0.1:${port + 1}`;
    const err = (await OvsdbClient.connect(`${dead},unix:/nonexistent.sock`).catch((e: unknown) => e)) as OvsdbError;
    expect(err.code).toBe('Unreachable');
    expect(err.message).toContain(dead);
    expect(err.message).toContain('unix:/nonexistent.sock');
    for (const bad of ['tcp:localhost:1', 'http://x', 'tcp:1.2.3.4:99999', '']) {
      await expect(OvsdbClient.connect(bad)).rejects.toMatchObject({ code: 'BadRemote' });
    }
  });
});

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 20));
  }
}
