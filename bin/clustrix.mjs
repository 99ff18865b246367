#!/usr/bin/env node
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.mjs', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('clustrix: not built yet; run `npm run build` in the clustrix checkout\n');
  process.exit(1);
}
await import(cli.href);
