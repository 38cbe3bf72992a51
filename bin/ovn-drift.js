#!/usr/bin/env node
// Entry point of the `ovn-drift` command: the compiled CLI lives in dist/ (npm run build).
import { main } from '../dist/operator/cli.js';

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(`ovn-drift: ${err?.stack ?? err}`); process.exitCode = 2; },
);
