#!/usr/bin/env node
// Entry point of the `ovn-drift` command: the compiled CLI lives in dist/ (npm run build).
import { main } from '../dist/operator/cli.js';

// `ovn-drift check -o json | head` closes our stdout early: that is the reader's choice, not an
// error of ours, so the exit status stays the command's own.
process.stdout.on('error', (err) => {
  if (err.code !== 'EPIPE') throw err;
});

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(`ovn-drift: ${err?.stack ?? err}`); process.exitCode = 2; },
);
