/** Starting a mux in the background: once per target while one starts, not again soon after one failed. */
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureMuxDir, muxSocketPath } from '../../client/mux/paths.js';
import { markerPath, markFailed, markStarted, spawnMux } from '../../client/mux/spawn.js';
import { describeMux } from '../../client/mux/status.js';

let base: string;
const saved = { run: process.env.CLUSTRIX_RUN_DIR, cli: process.env.CLUSTRIX_CLI };

beforeEach(() => {
  base = mkdtempSync('/tmp/clx-mux-spawn-');
  process.env.CLUSTRIX_RUN_DIR = join(base, 'run');
  // Stands in for dist/cli.mjs: records the arguments it was started with.
  process.env.CLUSTRIX_CLI = join(base, 'fake-cli.mjs');
  writeFileSync(
    process.env.CLUSTRIX_CLI,
    `import { appendFileSync } from 'node:fs';\nappendFileSync(${JSON.stringify(join(base, 'runs'))}, JSON.stringify([...process.argv.slice(2), 'cfg=' + (process.env.CLUSTRIX_SSH_CONFIG ?? '')]) + '\\n');\n`,
  );
});

afterEach(() => {
  for (const [k, v] of [['CLUSTRIX_RUN_DIR', saved.run] as const, ['CLUSTRIX_CLI', saved.cli] as const]) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  rmSync(base, { recursive: true, force: true });
});

const runs = () =>
  existsSync(join(base, 'runs'))
    ? readFileSync(join(base, 'runs'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as string[])
    : [];

describe('spawnMux', () => {
  it('starts `mux serve` with the target and options, once while it is starting', async () => {
    const socketPath = muxSocketPath('k1');
    expect(spawnMux({ target: 'me@cluster', socketPath, idleMs: 5000, root: '~/r', runDir: '/tmp/x', configFiles: ['/etc/a', '/etc/b'] })).toBe(true);
    expect(spawnMux({ target: 'me@cluster', socketPath, idleMs: 5000 })).toBe(false);
    await expect.poll(runs, { timeout: 10_000, interval: 50 }).toHaveLength(1);
    expect(runs()[0]).toEqual([
      'mux',
      'serve',
      'me@cluster',
      '--idle-ms',
      '5000',
      '--socket',
      socketPath,
      '--root',
      '~/r',
      '--run-dir',
      '/tmp/x',
      'cfg=/etc/a:/etc/b',
    ]);
    // Listening: the marker goes, and the next command may start one again (when this one has gone).
    markStarted(socketPath);
    expect(existsSync(markerPath(socketPath))).toBe(false);
    expect(spawnMux({ target: 'me@cluster', socketPath, idleMs: 5000 })).toBe(true);
  });

  it('holds off for a while after a failure, and retries a start that never reported', () => {
    ensureMuxDir();
    const socketPath = muxSocketPath('k2');
    markFailed(socketPath, 'All configured authentication methods failed');
    expect(spawnMux({ target: 'h', socketPath, idleMs: 5000 })).toBe(false);
    const old = (Date.now() - 11 * 60_000) / 1000;
    utimesSync(markerPath(socketPath), old, old);
    expect(spawnMux({ target: 'h', socketPath, idleMs: 5000 })).toBe(true);
    // A start that said nothing for 30 s is taken for dead.
    utimesSync(markerPath(socketPath), old, old);
    expect(spawnMux({ target: 'h', socketPath, idleMs: 5000 })).toBe(true);
  });

  it('tells doctor why there is none: off, not started yet, or the last one could not connect', () => {
    ensureMuxDir();
    const socketPath = muxSocketPath('k3');
    expect(describeMux(socketPath, 0).detail).toMatch(/^off/);
    expect(describeMux(socketPath, 600_000).detail).toMatch(/none running; the next command leaves one for 600 s/);
    markFailed(socketPath, 'All configured authentication methods failed');
    const d = describeMux(socketPath, 600_000);
    expect(d.detail).toMatch(/could not connect .*All configured authentication methods failed/);
    expect(d.hint).toMatch(/ssh-add/);
  });
});
