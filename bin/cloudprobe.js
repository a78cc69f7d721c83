#!/usr/bin/env node
// Starts the compiled CLI (dist/, built by `npm run build`; `npm ci` builds it as `prepare`) with
// plain node: no TypeScript loader at run time.
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

process.setSourceMapsEnabled(true); // stack traces of harness bugs name the harness/*.ts lines

let main;
try {
  ({ main } = await import('../dist/harness/cli/main.js'));
} catch (err) {
  if (err?.code !== 'ERR_MODULE_NOT_FOUND') throw err;
  // No dist/ yet, a partial one, or a missing dependency: one line saying what to run.
  const root = dirname(dirname(fileURLToPath(import.meta.url)));
  process.stderr.write(`cloudprobe: cannot load the compiled CLI (${err.message.split('\n')[0]}): run \`npm ci\` or \`npm run build\` in ${root}\n`);
  process.exit(2);
}
process.exitCode = await main(process.argv);
