/**
 * A project on disk for the functions tests, generated (so no node_modules
 * is committed): a TypeScript module with the exports the suite calls, a pure
 * JS dependency (bundled), and a "native" package (`gypfile: true`: kept out
 * of the bundle, installed on the cluster from its `npm pack` tarball, with
 * no network). Everything is world-readable: the agent may run as another user.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface FunctionsFixture {
  dir: string;
  /** The main module (imports clx-dep and clustrix/job). */
  work: string;
  /** A module importing the native package. */
  native: string;
  /** `npm pack` tarball of the native package. */
  nativeTarball: string;
  cleanup(): void;
}

const WORK = `
import { hostname } from 'node:os';
import { existsSync } from 'node:fs';
import { double } from 'clx-dep';
import { progress, scratchDir } from 'clustrix/job';

export async function add(a: number, b: number): Promise<number> {
  return double(a) + b;
}

export function echo<T>(x: T): T {
  return x;
}

export class QuotaError extends Error {
  code = 'EQUOTA';
  limit = 5;
  constructor(message: string) {
    super(message);
    this.name = 'QuotaError';
  }
}

export function failQuota(): never {
  throw new QuotaError('over quota');
}

export function failType(): unknown {
  const o: { x?: { y: number } } = {};
  return o.x!.y;
}

export function returnsFunction(): unknown {
  return () => 1;
}

export function leavesTimerRunning(): string {
  setInterval(() => {}, 1000);
  return 'done';
}

export function bytes(n: number): Buffer {
  return Buffer.alloc(n, 7);
}

export async function steps(n: number, gate: string): Promise<number> {
  for (let i = 0; i < n; i++) {
    progress({ step: i });
    // Wait (bounded) for the caller to have seen the first event: it must arrive while we run.
    for (let t = 0; i === 0 && t < 600 && !existsSync(gate); t++) await new Promise((r) => setTimeout(r, 100));
  }
  return n;
}

export async function square(x: number): Promise<{ x: number; sq: number; scratch: boolean }> {
  if (x === 13) throw new RangeError('unlucky ' + x);
  progress({ x });
  const s = scratchDir();
  return { x, sq: x * x, scratch: s !== undefined && existsSync(s) };
}

export function where(): string {
  return hostname();
}

export function exitsEarly(): never {
  process.stderr.write('giving up early\\n');
  process.exit(3);
}

export async function sleepy(ms: number): Promise<string> {
  progress('started');
  await new Promise((r) => setTimeout(r, ms));
  return 'woke';
}
`;

const NATIVE = `
import { triple } from 'clx-native';
export function tripled(x: number): number {
  return triple(x);
}
`;

function readableTree(dir: string): void {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      chmodSync(p, 0o755);
      readableTree(p);
    } else chmodSync(p, 0o644);
  }
}

export function makeFixture(): FunctionsFixture {
  const dir = mkdtempSync('/tmp/clx-fn-');
  chmodSync(dir, 0o755);
  const nm = join(dir, 'node_modules');
  mkdirSync(join(nm, 'clx-dep'), { recursive: true });
  writeFileSync(join(nm, 'clx-dep', 'package.json'), JSON.stringify({ name: 'clx-dep', version: '1.2.3', main: 'index.js' }));
  writeFileSync(join(nm, 'clx-dep', 'index.js'), 'exports.double = (x) => x * 2;\n');
  // The "native" package: gypfile marks a compiled addon; it has no binding.gyp, so npm installs it as is.
  const src = join(dir, 'native-src');
  mkdirSync(src);
  writeFileSync(join(src, 'package.json'), JSON.stringify({ name: 'clx-native', version: '0.4.0', main: 'index.js', gypfile: true }));
  writeFileSync(join(src, 'index.js'), 'exports.triple = (x) => x * 3;\n');
  const packed = execFileSync('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: src, encoding: 'utf8' }).trim().split('\n').pop()!;
  mkdirSync(join(nm, 'clx-native'));
  writeFileSync(join(nm, 'clx-native', 'package.json'), JSON.stringify({ name: 'clx-native', version: '0.4.0', main: 'index.js', gypfile: true }));
  writeFileSync(join(nm, 'clx-native', 'index.js'), 'exports.triple = (x) => x * 3;\n');
  writeFileSync(join(dir, 'work.ts'), WORK);
  writeFileSync(join(dir, 'native.ts'), NATIVE);
  readableTree(dir);
  return {
    dir,
    work: join(dir, 'work.ts'),
    native: join(dir, 'native.ts'),
    nativeTarball: join(dir, packed),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
