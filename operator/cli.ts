// Command-line entry: parses the command name and hands the rest of argv to that mode.
// Wiring only: no OVSDB, Kubernetes or iptables logic lives here. The commands are loaded lazily
// and never import this module (the exit codes live in operator/errors.ts), so there is no cycle.
import { EXIT } from './errors.js';

type Command = { summary: string; load: () => Promise<{ run(argv: string[]): Promise<number> }> };

const commands: Record<string, Command> = {
  check: { summary: 'compare PodCIDRRoute manifests with the OVN NB/SB databases', load: () => import('./commands/check.js') },
  trace: { summary: 'follow one destination IP through NB route, SB flow and chassis', load: () => import('./commands/trace.js') },
  demo: { summary: 'start a local OVN sandbox with the seed drift, check and repair it', load: () => import('./commands/demo.js') },
  operator: { summary: 'run the in-cluster operator (reconciles PodCIDRRoute and TunnelNoTrackPolicy)', load: () => import('./commands/operator.js') },
  agent: { summary: 'apply TunnelNoTrackPolicy NOTRACK rules on this node', load: () => import('./commands/agent.js') },
  sandbox: { summary: 'start a local OVN control plane and print its NB/SB remotes', load: () => import('./commands/sandbox.js') },
};

function usage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(9)} ${c.summary}`);
  return `usage: ovn-drift <command> [flags]\n\ncommands:\n${lines.join('\n')}\n\nRun 'ovn-drift <command> --help' for the flags of one command.`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name ? EXIT.ok : EXIT.badInput;
  }
  const command = commands[name];
  if (!command) {
    console.error(`ovn-drift: unknown command '${name}'\n\n${usage()}`);
    return EXIT.badInput;
  }
  const mod = await command.load();
  return mod.run(rest);
}
