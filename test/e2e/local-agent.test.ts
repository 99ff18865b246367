/** The real agent process, started the way clients start it: lifecycle, single instance, safety checks. */
import { spawn, execFile } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { Connection } from '../../client/connection.js';
import { connectUnix, installLocalAgent, runLocalAgent, startLocalAgent } from '../../client/local.js';
import { parseStartOutput } from '../../client/start-line.js';
import { PROTOCOL_VERSION } from '../../protocol/index.js';
import { BUNDLE, isAlive, localEnv, type LocalEnv } from '../support/local-agent.js';

const run = promisify(execFile);
let env: LocalEnv;
afterEach(async () => env?.cleanup());

describe('local agent lifecycle', () => {
  it('starts on connect, and a second client shares the same agent', async () => {
    env = localEnv();
    const a = await env.connect();
    const b = await env.connect();
    const [ia, ib] = await Promise.all([a.info(), b.info()]);
    expect(ia.pid).toBe(ib.pid);
    expect(ia.connections).toBeGreaterThanOrEqual(1);
    expect((await b.info()).connections).toBe(2);
    await Promise.all([a.close(), b.close()]);
  });

  it('starts one node process on a cold connect and none on a warm one', async () => {
    const base = mkdtempSync('/tmp/clx-node-');
    const log = join(base, 'runs');
    const wrapper = join(base, 'node');
    // A node that notes each agent command it runs ($1 is agent.mjs, $2 the command).
    writeFileSync(wrapper, `#!/bin/sh\necho "$2" >> '${log}'\nexec '${process.execPath}' "$@"\n`, { mode: 0o755 });
    const runs = () => {
      try {
        return readFileSync(log, 'utf8').split('\n').filter(Boolean);
      } catch {
        return [];
      }
    };
    try {
      env = localEnv({ nodePath: wrapper });
      const a = await env.connect();
      expect(runs()).toEqual(['serve']);
      const pid = (await a.info()).pid;
      await a.close();
      const b = await env.connect();
      expect((await b.info()).pid).toBe(pid);
      expect(runs()).toEqual(['serve']);
      await b.close();
    } finally {
      await runLocalAgent(env.opts, 'stop'); // while the wrapper it names still exists
      rmSync(base, { recursive: true, force: true });
    }
  });

  it('starts one agent when many clients connect at once', async () => {
    env = localEnv();
    const cs = await Promise.all(Array.from({ length: 6 }, () => env.connect()));
    const pids = new Set(await Promise.all(cs.map(async (c) => (await c.info()).pid)));
    expect(pids.size).toBe(1);
    expect(env.lockPid()).toBe([...pids][0]);
    await Promise.all(cs.map((c) => c.close()));
  });

  it('does not talk to a socket in a run dir that others can enter', async () => {
    env = localEnv();
    const c = await env.connect();
    const build = (await c.info()).build;
    await c.close();
    await runLocalAgent(env.opts, 'stop');
    // Someone else's server where ours would be, in a run dir with mode 0755 and a lock naming our build.
    chmodSync(env.runDir, 0o755);
    writeFileSync(join(env.runDir, 'agent.lock'), JSON.stringify({ pid: process.pid, startedAt: 1, build }));
    writeFileSync(join(env.runDir, 'agent.token'), 'planted', { mode: 0o600 });
    let touched = 0;
    const fake = createServer((s) => {
      touched++;
      s.destroy();
    });
    await new Promise<void>((r) => fake.listen(join(env.runDir, 'agent.sock'), r));
    try {
      await expect(env.connect()).rejects.toThrow(/has mode 755, expected 700/);
      expect(touched).toBe(0);
    } finally {
      fake.close();
    }
  });

  it('keeps its run dir 0700 and socket and token 0600', async () => {
    env = localEnv();
    const c = await env.connect();
    expect(statSync(env.runDir).mode & 0o777).toBe(0o700);
    expect(statSync(join(env.runDir, 'agent.sock')).mode & 0o777).toBe(0o600);
    expect(statSync(join(env.runDir, 'agent.token')).mode & 0o777).toBe(0o600);
    await c.close();
  });

  it('runs one agent when many clients start it at once', async () => {
    env = localEnv();
    const infos = await Promise.all(Array.from({ length: 6 }, () => startLocalAgent(env.opts)));
    const pids = new Set(infos.map((i) => i.pid));
    expect(pids.size).toBe(1);
    expect(infos.filter((i) => i.started).length).toBeLessThanOrEqual(1);
    expect(env.lockPid()).toBe([...pids][0]);
  });

  it('recovers a stale lock and socket left by a dead agent', async () => {
    env = localEnv();
    mkdirSync(env.runDir, { mode: 0o700 });
    // pid 2^22+1 is above Linux's default pid_max: certainly not running.
    writeFileSync(join(env.runDir, 'agent.lock'), JSON.stringify({ pid: 4194305, startedAt: 1, build: 'old' }));
    writeFileSync(join(env.runDir, 'agent.sock'), '');
    const c = await env.connect();
    expect((await c.info()).pid).toBe(env.lockPid());
    await c.close();
  });

  it('restarts the agent on the next connect after it was killed', async () => {
    env = localEnv();
    const c = await env.connect();
    const pid = (await c.info()).pid;
    const closed = new Promise((r) => c.connection.onClose(r));
    process.kill(pid, 'SIGKILL');
    await closed;
    await expect(c.fs.stat('/')).rejects.toMatchObject({ name: 'ConnectionError', kind: 'closed' });
    const c2 = await env.connect();
    const pid2 = (await c2.info()).pid;
    expect(pid2).not.toBe(pid);
    await c2.close();
  });

  it('exits when idle and removes its socket', async () => {
    env = localEnv({ idleExitMs: 200 });
    const c = await env.connect();
    const pid = (await c.info()).pid;
    await c.close();
    await expect.poll(() => isAlive(pid), { timeout: 10_000, interval: 50 }).toBe(false);
    expect(() => statSync(join(env.runDir, 'agent.sock'))).toThrow();
    expect(env.lockPid()).toBeNull();
  });

  it('stops at once, cleaning up, with a connection open that never upgraded', async () => {
    env = localEnv();
    const info = await startLocalAgent(env.opts);
    const raw = await connectUnix(info.socket); // a mux's spare channel looks like this to the agent
    const closed = new Promise((r) => raw.once('close', r));
    raw.on('error', () => {});
    const stop = await runLocalAgent(env.opts, 'stop');
    expect(JSON.parse(stop.stdout)).toMatchObject({ stopped: true, pid: info.pid });
    await closed;
    // A clean exit removes the token and the lock (a SIGKILL after the stop timeout would not).
    expect(existsSync(join(env.runDir, 'agent.token'))).toBe(false);
    expect(env.lockPid()).toBeNull();
  });

  it('stops on `stop` and reports not running in `status`', async () => {
    env = localEnv();
    const c = await env.connect();
    const pid = (await c.info()).pid;
    await c.close();
    const st = await runLocalAgent(env.opts, 'status');
    expect(st.code).toBe(0);
    expect(JSON.parse(st.stdout)).toMatchObject({ running: true, pid });
    const stop = await runLocalAgent(env.opts, 'stop');
    expect(JSON.parse(stop.stdout)).toMatchObject({ stopped: true, pid });
    expect(isAlive(pid)).toBe(false);
    const st2 = await runLocalAgent(env.opts, 'status');
    expect(st2.code).toBe(3);
    expect(JSON.parse(st2.stdout)).toMatchObject({ running: false });
  });

  it('replaces a running agent of another build', async () => {
    env = localEnv();
    const c = await env.connect();
    const oldPid = (await c.info()).pid;
    await c.close();
    // A different build: same code, different bytes, different hash.
    const other = join(env.root, 'other-agent.mjs');
    writeFileSync(other, readFileSync(BUNDLE, 'utf8') + '\n// another build\n');
    const out = await run(process.execPath, [other, 'start', '--root', env.root, '--run-dir', env.runDir]);
    const info = parseStartOutput(out.stdout)!;
    expect(info.started).toBe(true);
    expect(info.pid).not.toBe(oldPid);
    expect(isAlive(oldPid)).toBe(false);
  });

  it('replaces a running agent of another build on connect', async () => {
    env = localEnv();
    const other = join(env.root, 'other-agent.mjs');
    mkdirSync(env.root, { recursive: true });
    writeFileSync(other, readFileSync(BUNDLE, 'utf8') + '\n// another build\n');
    const old = parseStartOutput((await run(process.execPath, [other, 'start', '--root', env.root, '--run-dir', env.runDir])).stdout)!;
    const c = await env.connect();
    const info = await c.info();
    expect(info.build).not.toBe(old.build);
    expect(info.pid).not.toBe(old.pid);
    expect(isAlive(old.pid)).toBe(false);
    await c.close();
  });

  it.each([
    [
      'a run dir with mode 0755',
      (d: string) => {
        mkdirSync(d);
        chmodSync(d, 0o755);
      },
      /has mode 755, expected 700/,
    ],
    ['a symlink in place of the run dir', (d: string) => symlinkSync('/tmp', d), /not a directory/],
  ])('refuses %s with a message that says what to do', async (_what, prepare, message) => {
    env = localEnv();
    prepare(env.runDir);
    const r = await runLocalAgent(env.opts, 'start');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
  });

  it('refuses a run dir whose socket path would be too long', async () => {
    env = localEnv({ runDir: '/tmp/' + 'x'.repeat(110) });
    const r = await runLocalAgent(env.opts, 'start');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/too long.*choose a shorter --run-dir/);
  });

  it('speaks the same protocol through the exec bridge (SSH fallback path)', async () => {
    env = localEnv();
    const info = await startLocalAgent(env.opts);
    const agent = installLocalAgent(env.root);
    const child = spawn(process.execPath, [agent, 'bridge', '--root', env.root, '--run-dir', env.runDir], { stdio: ['pipe', 'pipe', 'inherit'] });
    const { Duplex } = await import('node:stream');
    const duplex = Duplex.from({ readable: child.stdout, writable: child.stdin });
    const conn = await Connection.open(duplex, { token: info.token });
    const { fsStat } = await import('../../protocol/index.js');
    await expect(conn.call(fsStat, { path: '/' })).resolves.toMatchObject({ type: 'dir' });
    await conn.close();
    child.kill();
  });
});

describe('agent bundle', () => {
  it('is one file under 1 MB that runs with no node_modules', async () => {
    expect(statSync(BUNDLE).size).toBeLessThanOrEqual(1024 * 1024);
    const dir = mkdtempSync('/tmp/clx-bare-');
    try {
      copyFileSync(BUNDLE, join(dir, 'agent.mjs'));
      const out = await run(
        process.execPath,
        [join(dir, 'agent.mjs'), 'start', '--root', join(dir, 'root'), '--run-dir', join(dir, 'run'), '--idle-exit-ms', '500'],
        {
          cwd: dir,
          env: { PATH: process.env.PATH, HOME: dir },
        },
      );
      const info = parseStartOutput(out.stdout);
      expect(info).toMatchObject({ started: true, protocol: PROTOCOL_VERSION });
      await run(process.execPath, [join(dir, 'agent.mjs'), 'stop', '--root', join(dir, 'root'), '--run-dir', join(dir, 'run')], { cwd: dir });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
