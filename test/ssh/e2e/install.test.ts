/**
 * Install and start against the real sshd testbed: an empty account, warm
 * reuse, auto-upgrade from another build, a corrupted install repaired by
 * one reinstall, and uploading a runtime.
 */
import { createHash } from 'node:crypto';
import { afterAll, expect, it } from 'vitest';
import { agentBundle, type AgentBundle } from '../../../client/agent-bundle.js';
import { connect } from '../../../client/index.js';
import type { Phase } from '../../../client/ssh/phases.js';
import { openRemote, type RemoteHandle } from '../../../client/ssh/remote.js';
import { agentShutdown } from '../../../protocol/index.js';
import { bed, describeSsh, login, sandbox } from './bed.js';

const phaseNames = (h: RemoteHandle) => h.timings.phases.map((p) => p.name);
const sum = (phases: Phase[]) => phases.reduce((a, p) => a + p.ms, 0);

/** A different but working build: same code plus a comment, so another content hash. */
function otherBuild(tag: string): AgentBundle {
  const real = agentBundle();
  const bytes = Buffer.concat([real.bytes, Buffer.from(`\n// e2e other build ${tag}\n`)]);
  return { path: '', bytes, build: createHash('sha256').update(bytes).digest('hex').slice(0, 16) };
}

describeSsh('ssh e2e: install and start', () => {
  const box = sandbox('install');
  afterAll(() => box.cleanup());

  it('installs into an empty account, reporting the node it chose, then reuses the running agent', async () => {
    const first = await openRemote(login('main'), box.opts());
    try {
      expect(first.info.how).toBe('installed');
      expect(first.info.install?.node.path).toMatch(/^\//);
      expect(first.info.install?.node.why).toMatch(/PATH|login shell|recorded/);
      expect(first.info.root).toBe(`${bed.homes[bed.users.main]}/${box.root.slice(2)}`);
      expect(first.tunnel).toBe('stream-local');
      // Every phase of the connect, in order (the install runs its own execs inside 'install').
      expect(phaseNames(first)).toEqual(['tcp', 'kex', 'auth', 'exec open', 'agent script', 'install', 'exec open', 'agent script', 'tunnel', 'hello']);
      expect(sum(first.timings.phases)).toBeLessThanOrEqual(first.timings.totalMs);
    } finally {
      await first.close();
    }
    const ls = await box.sh(`ls -la "$HOME"/${box.root.slice(2)}/agent/${agentBundle().build}; stat -c %a "$HOME"/${box.root.slice(2)}`);
    expect(ls.stdout).toMatch(/agent\.mjs/);
    expect(ls.stdout).not.toMatch(/\.tmp|\.mjs\.[0-9a-f]/); // no temp files left behind
    expect(ls.stdout.trim().split('\n').at(-1)).toBe('700');

    // Next connects: from the client's cache (no remote exec at all), or warm from the shell check.
    for (const [agentCache, how] of [
      [true, 'cached'],
      [false, 'warm'],
    ] as const) {
      const again = await openRemote(login('main'), box.opts({ agentCache }));
      try {
        expect(again.info.how).toBe(how);
        expect(again.info.pid).toBe(first.info.pid);
        expect(again.timings.agentMs).toBe(how === 'cached' ? 0 : again.timings.agentMs);
        expect(phaseNames(again)).toEqual(
          how === 'cached' ? ['tcp', 'kex', 'auth', 'tunnel (cached socket)', 'hello'] : ['tcp', 'kex', 'auth', 'exec open', 'agent script', 'tunnel', 'hello'],
        );
        expect(sum(again.timings.phases)).toBeLessThanOrEqual(again.timings.totalMs);
      } finally {
        await again.close();
      }
    }

    // Cold with a stale cache entry: the cached socket is tried first, then the agent is started.
    await stopAgent();
    const cold = await openRemote(login('main'), box.opts());
    try {
      expect(cold.info.how).toBe('started');
      expect(phaseNames(cold)).toEqual(['tcp', 'kex', 'auth', 'cached agent gone', 'exec open', 'agent script', 'tunnel', 'hello']);
    } finally {
      await cold.close();
    }
  });

  it('auto-upgrades: an agent of another build is replaced by ours', async () => {
    const old = otherBuild('upgrade');
    const a = await openRemote(login('main'), box.opts({ bundle: old }));
    const oldPid = a.info.pid;
    expect(a.info.build).toBe(old.build);
    await a.close();

    const c = await connect(login('main'), box.opts());
    try {
      const info = await c.info();
      expect(info.build).toBe(agentBundle().build);
      expect(info.pid).not.toBe(oldPid);
      // A zombie (no reaping init in containers) counts as gone: look at the process state, not kill -0.
      const alive = await box.sh(`s=$(cut -d' ' -f3 /proc/${oldPid}/stat 2>/dev/null); if [ -n "$s" ] && [ "$s" != Z ]; then echo alive; else echo gone; fi`);
      expect(alive.stdout.trim().split('\n').at(-1)).toBe('gone');
    } finally {
      await c.close();
    }
  });

  async function stopAgent(): Promise<void> {
    const h = await openRemote(login('main'), box.opts());
    await h.conn.call(agentShutdown, {}).catch(() => {});
    await h.close();
    for (let i = 0; i < 50 && (await box.sh(`[ -S ${box.runDir}/agent.sock ] && echo up`)).stdout.includes('up'); i++)
      await new Promise((r) => setTimeout(r, 100));
  }
  const installed = () => `"$HOME"/${box.root.slice(2)}/agent/${agentBundle().build}/agent.mjs`;

  it('version mismatch: another build at our content path is replaced by one reinstall', async () => {
    await stopAgent();
    const w = await box.sh(`cat > ${installed()}`, otherBuild('mismatch').bytes);
    expect(w.code).toBe(0);
    const h = await openRemote(login('main'), box.opts());
    try {
      expect(h.info.how).toBe('installed');
      expect(h.info.build).toBe(agentBundle().build);
    } finally {
      await h.close();
    }
  });

  it('a damaged install (does not even parse) is repaired by one reinstall', async () => {
    await stopAgent();
    await box.sh(`printf 'this is not javascript' > ${installed()}`);
    const h = await openRemote(login('main'), box.opts());
    try {
      expect(h.info.how).toBe('installed');
    } finally {
      await h.close();
    }
  });

  it('uploads a runtime when asked (content-addressed under <root>/node) and runs the agent with it', async () => {
    const up = sandbox('node');
    try {
      const h = await openRemote(login('main'), up.opts({ forceUploadNode: true, uploadNode: process.execPath }));
      try {
        expect(h.info.install?.node.uploaded).toBe(true);
        expect(h.info.install?.node.path).toMatch(/\/node\/[0-9a-f]{16}-linux-x86_64\/bin\/node$|\/node\/[0-9a-f]{16}-linux-[a-z0-9_]+\/bin\/node$/);
        expect(h.info.node).toBe(process.version);
      } finally {
        await h.close();
      }
    } finally {
      await up.cleanup();
    }
  }, 120_000);
});
