#!/usr/bin/env node
// The CLI is compiled by `npm run build` (run automatically by `npm ci` through "prepare").
import('../dist/src/cli.js')
  .then((m) => m.main(process.argv.slice(2)))
  .then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      console.error(err?.stack ?? String(err));
      process.exitCode = 1;
    },
  );
