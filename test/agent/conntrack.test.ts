// The effect itself: two namespaces joined by a veth pair, real TCP on 7471 (exempted) and 8080
// (not), IPv4 and IPv6. After the rules are in, the server namespace's conntrack table holds
// entries for 8080 and none for 7471, and a 7471 flow that existed before the rules is cleared.
import type { ChildProcess } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Netns, vethPair, type BackendName } from './netns.js';
import { agentIn, closeRunners, validPolicy } from './support.js';
import { conntrackList, connectOnce, entriesForPort, startServer, startStream } from './traffic.js';

const stt = validPolicy('ic-gateway-stt', { ports: [{ name: 'stt', protocol: 'TCP', port: 7471 }] });

describe.each(['nft', 'legacy'] as BackendName[])('NOTRACK effect with the %s backend', (backend) => {
  let client: Netns;
  let node: Netns;
  const children: ChildProcess[] = [];
  beforeEach(() => {
    client = Netns.create('odtc');
    node = Netns.create('odtn');
    vethPair(client, node);
    // A kernel only tracks connections in a namespace once a rule needs conntrack (as kube-proxy's
    // do on a real node): give both namespaces such a rule.
    for (const ns of [client, node])
      for (const bin of ['iptables', 'ip6tables']) ns.exec([`${bin}-${backend}`, '-w', '-A', 'INPUT', '-m', 'conntrack', '--ctstate', 'INVALID', '-j', 'DROP']);
  });
  afterEach(async () => {
    await closeRunners();
    for (const c of children.splice(0)) c.kill('SIGKILL');
    client.delete();
    node.delete();
  });

  it('tracks 8080 but not 7471 once the rules are in, and clears a 7471 flow tracked before', async () => {
    children.push(await startServer(node, [7471, 8080]));
    // A flow that exists before the rules: tracked on the node.
    children.push(await startStream(client, '10.77.0.2', 7471));
    children.push(await startStream(client, 'fd77::2', 7471));
    expect(entriesForPort(conntrackList(node, 'ipv4'), 7471)).toHaveLength(1);
    expect(entriesForPort(conntrackList(node, 'ipv6'), 7471)).toHaveLength(1);

    const { agent } = agentIn(node.name, backend);
    const r = await agent.pass({ policies: [stt], invalid: [], nodeLabels: {} });
    expect(r.outcome).toBe('Applied');

    // New connections on both ports, both families; the old flows keep sending meanwhile.
    for (const host of ['10.77.0.2', 'fd77::2']) {
      connectOnce(client, host, 7471);
      connectOnce(client, host, 8080);
    }
    for (const family of ['ipv4', 'ipv6'] as const) {
      const lines = conntrackList(node, family);
      expect(entriesForPort(lines, 8080).length, `${family} 8080 entries`).toBeGreaterThanOrEqual(1);
      expect(entriesForPort(lines, 7471), `${family} 7471 entries`).toEqual([]);
    }
    expect(r.conntrackDeleted).toBeGreaterThanOrEqual(2);
    // The client side has no rules: it still tracks its 7471 flows (the traffic really flowed).
    expect(entriesForPort(conntrackList(client, 'ipv4'), 7471).length).toBeGreaterThanOrEqual(2);
  });
});
