// Real TCP traffic between two namespaces for the NOTRACK effect tests: a server (node process)
// echoing on several ports, short client connections, and one long-lived flow that keeps sending.
import type { ChildProcess } from 'node:child_process';
import type { Netns } from './netns.js';

const SERVER = `
const net = require('node:net');
const ports = process.argv.slice(1).map(Number);
let n = 0;
for (const p of ports) for (const host of ['0.0.0.0', '::']) {
  const s = net.createServer((c) => c.on('data', (d) => c.write(d)).on('error', () => {}));
  s.listen({ port: p, host, ipv6Only: host === '::' }, () => { if (++n === ports.length * 2) console.log('ready'); });
}`;

const CLIENT_ONCE = `
const net = require('node:net');
const [host, port] = process.argv.slice(1);
const c = net.connect({ host, port: Number(port) }, () => c.write('ping'));
c.on('data', () => { console.log('ok'); c.end(); });
c.on('close', () => process.exit(0));
c.on('error', (e) => { console.error(e.message); process.exit(1); });
setTimeout(() => { console.error('timeout'); process.exit(1); }, 5000).unref();`;

const CLIENT_STREAM = `
const net = require('node:net');
const [host, port] = process.argv.slice(1);
const c = net.connect({ host, port: Number(port) }, () => { console.log('connected'); setInterval(() => c.write('x'), 50); });
c.on('data', (d) => { if (!globalThis.said) { globalThis.said = 1; console.log('echo'); } });
c.on('error', (e) => { console.error(e.message); process.exit(1); });`;

function waitForLine(child: ChildProcess, word: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes(word)) resolve();
    });
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code) => reject(new Error(`process exited (${code}) before '${word}': ${err}`)));
  });
}

export async function startServer(ns: Netns, ports: number[]): Promise<ChildProcess> {
  const child = ns.spawn([process.execPath, '-e', SERVER, ...ports.map(String)]);
  await waitForLine(child, 'ready');
  return child;
}

export function connectOnce(ns: Netns, host: string, port: number): void {
  ns.exec([process.execPath, '-e', CLIENT_ONCE, host, String(port)]);
}

export async function startStream(ns: Netns, host: string, port: number): Promise<ChildProcess> {
  const child = ns.spawn([process.execPath, '-e', CLIENT_STREAM, host, String(port)]);
  await waitForLine(child, 'echo');
  return child;
}

/** conntrack -L lines of one family in a namespace. */
export function conntrackList(ns: Netns, family: 'ipv4' | 'ipv6'): string[] {
  const r = ns.try(['conntrack', '-L', '-f', family]);
  return r.out.split('\n').filter((l) => /^(tcp|udp|sctp)\s/.test(l));
}
export function entriesForPort(lines: string[], port: number): string[] {
  const re = new RegExp(`\\b[sd]port=${port}\\b`);
  return lines.filter((l) => re.test(l));
}
