/**
 * dist/cli.mjs: runs the CLI bundle (dist/cli-main.cjs, built from main.ts)
 * through V8's code cache (code-cache.ts). The bundle is CommonJS because
 * Node 20 can hand cached bytecode only to a `vm.Script`; it is run here the
 * way Node runs a CommonJS module (the same wrapper, its own `require`).
 */
import Module, { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';
import { codeCacheDir, codeCacheFile, codeCacheMode, readCodeCache, writeCodeCache } from './code-cache.js';

/** sha256 (16 hex) of dist/cli-main.cjs, put here by scripts/build.mjs. */
declare const __CLX_CLI_MAIN_HASH__: string;

type ModuleWrapper = (exports: unknown, require: NodeJS.Require, module: unknown, filename: string, dirname: string) => void;

const main = fileURLToPath(new URL('./cli-main.cjs', import.meta.url));
let source: string;
try {
  source = readFileSync(main, 'utf8');
} catch (err) {
  process.stderr.write(`clustrix: cannot read ${main} (${(err as Error).message}); rebuild with \`npm run build\` or reinstall clustrix\n`);
  process.exit(1);
}

const mode = codeCacheMode();
const dir = codeCacheDir();
const file = codeCacheFile(dir, __CLX_CLI_MAIN_HASH__);
const cached = mode === 'off' ? undefined : readCodeCache(file, dir);
const script = new Script(Module.wrap(source), { filename: main, cachedData: cached });

if (mode !== 'off') {
  const state = cached === undefined ? 'miss' : script.cachedDataRejected ? 'rejected' : 'hit';
  process.once('exit', () => {
    const wrote = state === 'hit' ? '' : `, ${writeCodeCache(script, file, dir)}`;
    if (mode === 'report') process.stderr.write(`clustrix: code cache ${state}${wrote} (${file})\n`);
  });
}

const wrapper = script.runInThisContext() as ModuleWrapper;
const mod = new Module(main);
mod.filename = main;
const require = createRequire(main);
wrapper.call(mod.exports, mod.exports, require, mod, main, dirname(main));
