/**
 * dist/agent.mjs: the agent is this one file. scripts/build.mjs bundles the
 * agent (main.ts) as CommonJS and embeds that code here as a string, and this
 * runs it through V8's code cache (code-cache.ts) the way Node runs a
 * CommonJS module (the same wrapper, a `require` of its own). Node 20 hands
 * cached bytecode only to a `vm.Script`, hence the string.
 */
import Module, { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';
import { codeCacheFile, codeCacheMode, readCodeCache, writeCodeCache } from './code-cache.js';

/** The agent's code (CommonJS), put here by scripts/build.mjs. */
declare const __CLX_AGENT_MAIN__: string;
/** sha256 (16 hex) of that code, put here by scripts/build.mjs. */
declare const __CLX_AGENT_MAIN_HASH__: string;

type ModuleWrapper = (exports: unknown, require: NodeJS.Require, module: unknown, filename: string, dirname: string) => void;

const self = fileURLToPath(import.meta.url);
const dir = dirname(self);
const mode = codeCacheMode();
const file = codeCacheFile(dir, __CLX_AGENT_MAIN_HASH__);
const cached = mode === 'off' ? undefined : readCodeCache(file, dir);
const script = new Script(Module.wrap(__CLX_AGENT_MAIN__), { filename: self, cachedData: cached });
if (mode !== 'off') {
  const state = cached === undefined ? 'miss' : script.cachedDataRejected ? 'rejected' : 'hit';
  process.once('exit', () => {
    const wrote = state === 'hit' ? '' : writeCodeCache(script, file, dir) ? ', written' : ', not written';
    if (mode === 'report') process.stderr.write(`clustrix agent: code cache ${state}${wrote} (${file})\n`);
  });
}

const wrapper = script.runInThisContext() as ModuleWrapper;
const mod = new Module(self);
mod.filename = self;
wrapper.call(mod.exports, mod.exports, createRequire(self), mod, self, dir);
