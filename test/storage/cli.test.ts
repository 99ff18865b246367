/** `clustrix storage --verify`: flags, progress on stderr, the verified table or JSON on stdout, exit codes. */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyParams } from '../../client/cli/storage-commands.js';
import type { StorageVerifyResult } from '../../protocol/index.js';

const run = promisify(execFile);
const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli.mjs');

describe('storage --verify flags', () => {
  it('become storage.verify params', () => {
    expect(verifyParams({ quota: true, scheduler: 'slurm', timeout: '10m', partition: 'debug', account: 'a1', directive: ['--hold'] })).toEqual({
      scheduler: 'slurm',
      probeTimeoutMs: 600_000,
      partition: 'debug',
      account: 'a1',
      directives: ['--hold'],
    });
    expect(verifyParams({ quota: true, timeout: '90' }).probeTimeoutMs).toBe(90_000); // seconds here, not minutes
    expect(() => verifyParams({ quota: true, scheduler: 'condor' })).toThrow(/--scheduler condor: expected one of slurm/);
    expect(() => verifyParams({ quota: true, timeout: 'soon' })).toThrow(/--timeout soon/);
  });
});

describe('clustrix storage --verify against a local agent', () => {
  const base = mkdtempSync('/tmp/clx-scli-');
  const g = ['--root', join(base, 'root'), '--run-dir', join(base, 'run')];
  afterAll(async () => {
    await run(process.execPath, [CLI, ...g, 'agent', 'stop']).catch(() => {});
    rmSync(base, { recursive: true, force: true });
  });

  it('prints progress on stderr, then the verdicts and the verified table', async () => {
    const r = await run(process.execPath, [CLI, ...g, 'storage', '--verify']);
    expect(r.stderr).toMatch(/clustrix: probe job \w+ submitted to local/);
    expect(r.stderr).toMatch(/clustrix: markers removed from \d+ director/);
    expect(r.stdout).toMatch(/^probe job \w+ \(local\) ended COMPLETED, ran on \S+ = the login node itself/);
    expect(r.stdout).toMatch(/\nclustrix-root +\S+ +shared +the compute node saw/);
    // The storage table: SHARED without "?" (verified) and a VERIFIED date.
    expect(r.stdout).toMatch(/\nclustrix-root .* yes +\d{4}-\d\d-\d\d \d\d:\d\d /);
  });

  it('prints the result as JSON with --json', async () => {
    const r = await run(process.execPath, [CLI, ...g, '--json', 'storage', '--verify']);
    const j = JSON.parse(r.stdout) as StorageVerifyResult;
    expect(j.probe).toMatchObject({ scheduler: 'local', state: 'COMPLETED', sameHost: true });
    expect(j.locations.find((l) => l.kind === 'clustrix-root')).toMatchObject({ verified: true, shared: true });
  });

  it('refuses probe flags without --verify (exit 2)', async () => {
    const err = (await run(process.execPath, [CLI, ...g, 'storage', '--timeout', '5m']).catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(err.code).toBe(2);
    expect(err.stderr).toMatch(/need --verify/);
  });
});
