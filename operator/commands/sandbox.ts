// `ovn-drift sandbox`: starts the embedded OVN control plane and prints its remotes until Ctrl-C,
// so `ovn-nbctl`, `check` and `trace` can be pointed at it by hand.
import { parseArgs } from 'node:util';
import { OvnSandbox, SandboxError } from '../sandbox/sandbox.js';

export async function run(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: { cluster: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } } }));
  } catch (err) {
    console.error(`ovn-drift sandbox: ${(err as Error).message}`);
    return 1;
  }
  if (values.help) {
    console.log('usage: ovn-drift sandbox [--cluster]\n\nStarts ovsdb-server (NB, SB) and ovn-northd in a temp dir and prints their remotes; Ctrl-C stops them.');
    return 0;
  }
  let sandbox: OvnSandbox;
  try {
    sandbox = await OvnSandbox.start({ cluster: values.cluster });
  } catch (err) {
    console.error(`ovn-drift sandbox: ${(err as Error).message}`);
    return err instanceof SandboxError && err.code === 'BinaryMissing' ? 1 : 2;
  }
  console.log(`NB: ${sandbox.nbRemote}\nSB: ${sandbox.sbRemote}\ndir: ${sandbox.dir}\n(Ctrl-C stops the sandbox)`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await sandbox.stop();
  return 0;
}
