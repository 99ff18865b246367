/**
 * Unreadable directories, as GNU find and du see them. Root is exempt from
 * permission checks, so when tests run as root (CI does) both GNU tools and
 * our handlers run as an unprivileged user (setpriv → uid/gid 65534), ours
 * through test/parity/helpers/run-method.ts in a child node.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DuResult, FindEntry, WalkSummary } from '../../protocol/index.js';
import { makeUnreadableTree, removeTree, tempDir } from '../support/trees.js';
import { byteSet, canDropPrivileges, run, splitNul, unprivileged } from './helpers/gnu.js';

const PROJECT = fileURLToPath(new URL('../..', import.meta.url));
const RUNNER = fileURLToPath(new URL('./helpers/run-method.ts', import.meta.url));
const possible = canDropPrivileges();

let base: string;
let root: string;

beforeAll(() => {
  base = tempDir('clx-parity-unreadable-');
  root = join(base, 'u');
  makeUnreadableTree(root);
});
afterAll(() => removeTree(base));

interface Out<T> {
  items?: (T & { path?: string; raw?: { b64: string } })[];
  summary?: unknown;
  error?: { code: string; message: string };
}

/** Run one method as the unprivileged user in a child node; parse its JSON line. */
function ours<T>(method: string, params: object): Promise<Out<T>> {
  const [cmd, args] = unprivileged(process.execPath, ['--import', 'tsx', RUNNER, method, JSON.stringify(params)]);
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd: PROJECT, env: { ...process.env, HOME: base }, maxBuffer: 1 << 26 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${err.message}\n${stderr}`));
      resolve(JSON.parse(stdout.trim().split('\n').pop()!) as Out<T>);
    });
  });
}

describe.skipIf(!possible)('unreadable directories (as an unprivileged user)', () => {
  it('find: every path GNU find prints, each unreadable directory both listed and reported EACCES', async () => {
    const gnu = await run('find', [root, '-print0'], { asUser: true });
    expect(gnu.code).toBe(1); // find exits 1 after "Permission denied"
    const want = byteSet(splitNul(gnu.stdout));
    const gnuErrors = gnu.stderr
      .split('\n')
      .filter(Boolean)
      .map((l) => /[‘'](.*?)[’']: Permission denied/.exec(l)?.[1])
      .sort();
    // locked and ok/nested-locked; noexec (0644) can be listed, and find needs no lstat to print its names.
    expect(gnuErrors.length).toBe(2);

    const out = await ours<FindEntry>('fs.find', { root });
    expect(out.error).toBeUndefined();
    const items = out.items!;
    const matched = items.filter((e) => !e.error);
    const errors = items.filter((e) => e.error);
    expect(byteSet(matched.map((e) => Buffer.from(e.path)))).toEqual(want);
    expect(errors.map((e) => e.path).sort()).toEqual(gnuErrors);
    expect(errors.every((e) => e.error!.code === 'EACCES' && e.type === 'dir')).toBe(true);
    for (const e of errors) expect(matched.some((m) => m.path === e.path)).toBe(true);
    const summary = out.summary as WalkSummary;
    expect(summary.errors).toBe(2);
    expect(summary.matched).toBe(matched.length);
  }, 60_000);

  it('du: same totals as du -s -b / -B1, errors counted and kept', async () => {
    const [b, b1] = await Promise.all([run('du', ['-s', '-b', root], { asUser: true }), run('du', ['-s', '-B1', root], { asUser: true })]);
    expect(b.code).toBe(1);
    const out = await ours<never>('fs.du', { path: root });
    const r = out.summary as DuResult;
    expect(r.apparentBytes).toBe(Number(/^\d+/.exec(b.stdout.toString())![0]));
    expect(r.allocatedBytes).toBe(Number(/^\d+/.exec(b1.stdout.toString())![0]));
    expect(r.errors).toBe(3); // du also has to lstat noexec/visible-name
    expect(r.firstErrors.map((e) => e.error?.code)).toEqual(['EACCES', 'EACCES', 'EACCES']);
  }, 60_000);

  it('ls of an unreadable directory fails with EACCES naming the path', async () => {
    const out = await ours<never>('fs.ls', { path: join(root, 'locked') });
    expect(out.error?.code).toBe('EACCES');
    expect(out.error?.message).toBe(`opendir ${join(root, 'locked')}: permission denied`);
  }, 60_000);

  it('ls of a readable but unsearchable directory lists names, each entry with an lstat error', async () => {
    const out = await ours<{ name: string; error?: { code: string } }>('fs.ls', { path: join(root, 'noexec') });
    expect(out.items!.map((e) => [e.name, e.error?.code])).toEqual([['visible-name', 'EACCES']]);
  }, 60_000);
});
