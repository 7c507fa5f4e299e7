#!/usr/bin/env node
// The compiled CLI (npm ci runs `prepare`, which builds dist/). main() is exported rather than run on
// import, so tests can call it in-process.
import { main } from '../dist/cli.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`custody-proxy: ${String(err)}\n`);
    process.exitCode = 1;
  },
);
