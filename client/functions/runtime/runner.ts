/**
 * The function runner, bundled by the client into every function bundle
 * together with the user's module. On the compute node the job runs
 *
 *   node --enable-source-maps <bundle>.mjs --clustrix-fn <export> <run|map>
 *
 * and the runner reads `$CLUSTRIX_JOB_DIR/fn/input-<task>.bin`, calls the
 * export (once with the argument list, or once per item of its map chunk, in
 * order), and writes `fn/result-<task>.bin` (temp file + rename, so a reader
 * never sees half a file). Each outcome is encoded on its own: a result that
 * cannot be sent back fails only its item. Exit status 0 when every call
 * returned, 1 when one threw (the results still say which and why).
 */
import { renameSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { FunctionResultFile } from '../../../protocol/types/functions.js';
import { decodeValue, encodeThrown, encodeValue, ValueError } from '../../../protocol/values.js';
import { CURRENT_ITEM } from './job.js';

type Outcome = FunctionResultFile['outcomes'][number];

function fail(message: string): never {
  process.stderr.write(`clustrix function runner: ${message}\n`);
  process.exit(2);
}

function pickExport(mod: Record<string, unknown>, name: string): (...args: unknown[]) => unknown {
  let fn = mod[name];
  // A CommonJS module bundled as ESM exposes its exports on `default`.
  if (fn === undefined && name !== 'default' && mod.default && typeof mod.default === 'object') fn = (mod.default as Record<string, unknown>)[name];
  if (typeof fn !== 'function') {
    const names = Object.keys(mod).filter((k) => typeof mod[k] === 'function');
    throw new TypeError(`the module has no function export "${name}" (function exports: ${names.join(', ') || 'none'})`);
  }
  return fn as (...args: unknown[]) => unknown;
}

async function call(fn: (...args: unknown[]) => unknown, args: unknown[], what: string): Promise<Outcome> {
  let value: unknown;
  try {
    value = await fn(...args);
  } catch (err) {
    process.stderr.write(`${what} threw: ${(err as Error)?.stack ?? String(err)}\n`);
    return { ok: false, bytes: encodeThrown(err) };
  }
  try {
    return { ok: true, bytes: encodeValue(value, 'result') };
  } catch (err) {
    const e = err instanceof ValueError ? new TypeError(`${what} returned a value that cannot be sent back: ${err.message}`) : err;
    process.stderr.write(`${String(e)}\n`);
    return { ok: false, bytes: encodeThrown(e) };
  }
}

export async function main(mod: Record<string, unknown>): Promise<void> {
  const at = process.argv.indexOf('--clustrix-fn');
  if (at < 0) fail('this bundle is run by clustrix jobs (expected --clustrix-fn EXPORT MODE)');
  const [exportName, mode] = process.argv.slice(at + 1);
  const jobDir = process.env.CLUSTRIX_JOB_DIR;
  if (!exportName || (mode !== 'run' && mode !== 'map') || !jobDir) fail('usage: --clustrix-fn EXPORT run|map, with $CLUSTRIX_JOB_DIR set');
  const task = process.env.CLUSTRIX_TASK_ID || 'job';
  const dir = join(jobDir, 'fn');
  const started = Date.now();
  const input = decodeValue(readFileSync(join(dir, `input-${task}.bin`)));
  const outcomes: Outcome[] = [];
  let start = 0;
  let fn: ((...args: unknown[]) => unknown) | null = null;
  let lookupError: unknown = null;
  try {
    fn = pickExport(mod, exportName);
  } catch (err) {
    lookupError = err;
  }
  if (mode === 'run') {
    outcomes.push(fn ? await call(fn, input as unknown[], `${exportName}()`) : { ok: false, bytes: encodeThrown(lookupError) });
  } else {
    const chunk = input as { start: number; items: unknown[] };
    start = chunk.start;
    const g = globalThis as Record<symbol, unknown>;
    for (let k = 0; k < chunk.items.length; k++) {
      g[CURRENT_ITEM] = start + k;
      outcomes.push(fn ? await call(fn, [chunk.items[k]], `${exportName}(items[${start + k}])`) : { ok: false, bytes: encodeThrown(lookupError) });
    }
    delete g[CURRENT_ITEM];
  }
  if (lookupError) process.stderr.write(`${String(lookupError)}\n`);
  const file: FunctionResultFile = { v: 1, start, outcomes, host: hostname(), durationMs: Date.now() - started };
  const path = join(dir, `result-${task}.bin`);
  const tmp = `${path}.tmp.${process.pid}`;
  writeFileSync(tmp, encodeValue(file, 'results'));
  renameSync(tmp, path);
  // Exit now: a timer or socket the module left open must not keep the job (and its allocation) alive.
  process.exit(outcomes.every((o) => o.ok) ? 0 : 1);
}
