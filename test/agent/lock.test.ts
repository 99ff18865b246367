/** The agent lock: taken whole or not at all, a live holder kept, a dead or long-torn one broken, a young torn one respected. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireLock, readLock } from '../../agent/lock.js';

let dir: string;
let lock: string;
const children: ChildProcess[] = [];
const me = { pid: process.pid, startedAt: 1, build: 'mine' };

beforeEach(() => {
  dir = mkdtempSync('/tmp/clx-lock-');
  lock = join(dir, 'agent.lock');
});
afterEach(() => {
  for (const c of children.splice(0)) c.kill();
  rmSync(dir, { recursive: true, force: true });
});

describe('agent lock', () => {
  it('is taken with its content in place and leaves no other file', () => {
    expect(acquireLock(lock, me)).toEqual({ acquired: true });
    expect(readLock(lock)).toEqual(me);
    expect(readdirSync(dir)).toEqual(['agent.lock']);
  });

  it('is not taken from a live agent', async () => {
    // A live process whose command line looks like an agent's (`… agent serve`).
    const c = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', 'agent', 'serve'], { stdio: 'ignore' });
    children.push(c);
    await new Promise((r) => c.once('spawn', r));
    writeFileSync(lock, JSON.stringify({ pid: c.pid, startedAt: 2, build: 'other' }));
    expect(acquireLock(lock, me)).toEqual({ acquired: false, holder: { pid: c.pid, startedAt: 2, build: 'other' } });
    expect(readdirSync(dir)).toEqual(['agent.lock']);
  });

  it('takes over the lock of a dead agent', () => {
    writeFileSync(lock, JSON.stringify({ pid: 4194305, startedAt: 2, build: 'old' }));
    expect(acquireLock(lock, me)).toEqual({ acquired: true });
    expect(readLock(lock)).toEqual(me);
  });

  it('respects an empty lock another starter is still writing, and breaks one left empty long ago', () => {
    writeFileSync(lock, '');
    expect(acquireLock(lock, me)).toMatchObject({ acquired: false, holder: { pid: 0 } });
    expect(readFileSync(lock, 'utf8')).toBe('');
    const old = (Date.now() - 60_000) / 1000;
    utimesSync(lock, old, old);
    expect(acquireLock(lock, me)).toEqual({ acquired: true });
    expect(readLock(lock)).toEqual(me);
  });
});
