/** Terminal truth, as a table: scheduler status × wrapper records × cancel × scheduler log → one state. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { aggregate, decideTask, logVerdict, type TaskFacts } from '../../agent/jobs/reconcile.js';
import type { NativeStatus } from '../../agent/jobs/adapters/types.js';

const now = 1_000_000;
const facts = (f: Partial<TaskFacts>): TaskFacts => ({
  prev: { state: 'RUNNING', startedAt: now - 5000 },
  authoritative: true,
  cancelRequested: false,
  now,
  ...f,
});
const native = (state: NativeStatus['state'], extra: Partial<NativeStatus> = {}): NativeStatus => ({ jobId: '9', state, raw: state, ...extra });
const fx = (f: string) => readFileSync(join(import.meta.dirname, '..', 'fixtures', 'slurm', f), 'utf8');

describe('deciding one task', () => {
  it('an exit record without a signal is final at once, even while the scheduler still says RUNNING', () => {
    expect(decideTask(facts({ native: native('RUNNING'), exit: { exitCode: 0, endedAt: now } }))).toMatchObject({ state: 'COMPLETED', exitCode: 0 });
    expect(decideTask(facts({ exit: { exitCode: 3, endedAt: now } }))).toMatchObject({ state: 'FAILED', exitCode: 3, signal: null });
  });

  it('a signalled exit waits for the scheduler verdict (a time limit sends TERM first)', () => {
    expect(decideTask(facts({ native: native('RUNNING'), exit: { exitCode: 143, signal: 'SIGTERM' } }))).toMatchObject({ state: 'RUNNING' });
    expect(decideTask(facts({ native: native('TIMEOUT', { reason: 'TimeLimit' }), exit: { exitCode: 143, signal: 'SIGTERM' } }))).toMatchObject({
      state: 'TIMEOUT',
      reason: 'TimeLimit',
    });
  });

  it('reads the scheduler log to tell a memory kill from a plain failure', () => {
    const f = facts({ native: native('FAILED', { reason: 'JobLaunchFailure', exitCode: null, signal: 'SIGKILL' }) });
    expect(decideTask(f)).toBe('schedlog');
    expect(decideTask({ ...f, schedLog: fx('job-output-oom.txt') })).toMatchObject({
      state: 'OUT_OF_MEMORY',
      reason: expect.stringContaining('exceeded memory limit'),
    });
    expect(decideTask({ ...f, schedLog: '' })).toMatchObject({ state: 'FAILED', signal: 'SIGKILL' });
    expect(logVerdict(fx('job-output-timeout.txt'))).toMatchObject({ state: 'TIMEOUT' });
  });

  it('a job we cancelled is CANCELLED whatever signal ended it', () => {
    expect(decideTask(facts({ cancelRequested: true, native: native('CANCELLED'), schedLog: '' }))).toMatchObject({ state: 'CANCELLED' });
    expect(decideTask(facts({ cancelRequested: true }))).toMatchObject({ state: 'CANCELLED' });
  });

  it('a job the scheduler forgot without an exit record: accounting, then the log, then the clock', () => {
    const f = facts({ start: { startedAt: now - 70_000 }, timeSec: 60 });
    expect(decideTask(f)).toBe('describe');
    expect(decideTask({ ...f, finished: { state: 'TIMEOUT', reason: 'failed 37' } })).toMatchObject({ state: 'TIMEOUT', reason: 'failed 37' });
    expect(decideTask({ ...f, finished: null })).toBe('schedlog');
    // The exit record may be hidden by NFS attribute caching for a while: wait, then decide.
    expect(decideTask({ ...f, finished: null, schedLog: '', goneForMs: 2000 })).toBe('wait');
    expect(decideTask({ ...f, finished: null, schedLog: '', goneForMs: 11_000 })).toMatchObject({ state: 'TIMEOUT' });
    expect(decideTask({ ...f, timeSec: 3600, finished: null, schedLog: '', goneForMs: 11_000 })).toMatchObject({
      state: 'FAILED',
      reason: expect.stringContaining('without recording'),
    });
  });

  it('a partial listing (local scheduler) keeps the last state until a record says more', () => {
    const prev = { state: 'RUNNING' as const, startedAt: 1 };
    expect(decideTask({ prev, authoritative: false, cancelRequested: false, now })).toBe(prev);
  });

  it('a pending job whose wrapper already started is RUNNING', () => {
    expect(decideTask(facts({ prev: { state: 'PENDING' }, native: native('PENDING'), start: { startedAt: now } }))).toMatchObject({
      state: 'RUNNING',
      startedAt: now,
    });
  });
});

describe('aggregating an array', () => {
  it('is RUNNING while any task runs or some ended, COMPLETED when all did', () => {
    expect(aggregate(3, [{ index: 0, state: 'COMPLETED' }], false)).toMatchObject({ state: 'RUNNING', counts: { COMPLETED: 1, PENDING: 2 } });
    expect(
      aggregate(
        2,
        [
          { index: 0, state: 'COMPLETED', endedAt: 5 },
          { index: 1, state: 'COMPLETED', endedAt: 9 },
        ],
        false,
      ),
    ).toMatchObject({ state: 'COMPLETED', exitCode: 0, endedAt: 9 });
  });

  it('reports the most specific failure with the task that had it', () => {
    const r = aggregate(
      3,
      [
        { index: 0, state: 'COMPLETED' },
        { index: 1, state: 'FAILED', exitCode: 2 },
        { index: 2, state: 'OUT_OF_MEMORY', exitCode: null, signal: 'SIGKILL', reason: 'exceeded memory limit' },
      ],
      false,
    );
    expect(r).toMatchObject({ state: 'OUT_OF_MEMORY', signal: 'SIGKILL', reason: 'task 2: exceeded memory limit (2 of 3 tasks not completed)' });
  });
});
