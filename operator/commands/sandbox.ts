// `ovn-drift sandbox`: starts the embedded OVN control plane and prints its remotes until Ctrl-C,
// so `ovn-nbctl`, `check` and `trace` can be pointed at it by hand.
// Exit: 0 stopped by a signal, 1 usage or a missing OVN binary, 2 the sandbox failed to start.
import { parseArgs } from 'node:util';
import { EXIT } from '../errors.js';
import { stopSignal } from '../runtime/signals.js';
import { OvnSandbox } from '../sandbox/sandbox.js';
import { failed, flagContext } from './flags.js';

const USAGE = 'usage: ovn-drift sandbox [--cluster]\n\nStarts ovsdb-server (NB, SB) and ovn-northd in a temp dir and prints their remotes; Ctrl-C stops them.';

export async function run(argv: string[]): Promise<number> {
  const ctx = flagContext('ovn-drift sandbox');
  let cluster: boolean;
  try {
    const { values } = parseArgs({ args: argv, options: { cluster: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } } });
    if (values.help) {
      console.log(USAGE);
      return EXIT.ok;
    }
    cluster = values.cluster;
  } catch (err) {
    return failed(ctx, err, USAGE);
  }
  let sandbox: OvnSandbox;
  try {
    sandbox = await OvnSandbox.start({ cluster });
  } catch (err) {
    return failed(ctx, err); // SandboxError: BinaryMissing is exit 1, the rest exit 2
  }
  console.log(`NB: ${sandbox.nbRemote}\nSB: ${sandbox.sbRemote}\ndir: ${sandbox.dir}\n(Ctrl-C stops the sandbox)`);
  const stop = stopSignal();
  await stop.stopped;
  stop.dispose();
  await sandbox.stop();
  return EXIT.ok;
}
