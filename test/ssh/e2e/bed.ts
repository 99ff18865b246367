/**
 * The sshd testbed, as the SSH end-to-end suites see it: the state written by
 * scripts/testbed/sshd.mjs, and per-suite isolation (a fresh clustrix root
 * and run dir on the "cluster", so each suite has its own agent and starts
 * from an empty install). Missing testbed: skip with the reason, or fail
 * when CI=true.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { remoteAgentStop } from '../../../client/ssh/agent-control.js';
import { openSsh, type SshSession } from '../../../client/ssh/connect.js';
import { shQuote } from '../../../client/ssh/quote.js';
import { execScript } from '../../../client/ssh/remote-exec.js';
import type { RemoteOptions } from '../../../client/ssh/remote.js';

export interface SshdState {
  host: string;
  instances: Record<'main' | 'noforward' | 'jump', { port: number; pid: number; hostKeyPub: string; streamLocal: boolean }>;
  knownHosts: string;
  knownHostsHashed: string;
  clientKey: string;
  clientKeyEncrypted: string;
  clientKeyPassphrase: string;
  users: { main: string; tcsh: string; other: string | null };
  homes: Record<string, string>;
  root: boolean;
  sshConfig: string;
  aliases: { main: string; noforward: string; jump: string; viaJump: string };
  loginNoise: string;
}

const projectRoot = join(import.meta.dirname, '..', '..', '..');
const stateFile = join(process.env.CLUSTRIX_TESTBED_DIR ?? join(projectRoot, '.testbed'), 'state.json');

function load(): { state: SshdState | null; reason: string } {
  if (!existsSync(join(projectRoot, 'dist', 'agent.mjs'))) return { state: null, reason: 'dist/agent.mjs is not built (npm run build)' };
  if (!existsSync(stateFile)) return { state: null, reason: `no testbed state at ${stateFile} (node scripts/testbed/index.mjs up sshd)` };
  const all = JSON.parse(readFileSync(stateFile, 'utf8')) as { sshd?: SshdState & { skipped?: string } };
  if (!all.sshd) return { state: null, reason: 'the sshd testbed is not up (node scripts/testbed/index.mjs up sshd)' };
  if (all.sshd.skipped) return { state: null, reason: `the sshd testbed was skipped: ${all.sshd.skipped}` };
  return { state: all.sshd, reason: '' };
}

const loaded = load();

// Keep the client-side agent cache (socket + token) of tests away from the user's own.
process.env.CLUSTRIX_CACHE_DIR ??= mkdtempSync(join(tmpdir(), 'clx-cache-'));
export const bed = loaded.state as SshdState;

/** `describe` when the testbed is up; otherwise skip saying why (or throw under CI=true). */
export function describeSsh(name: string, fn: () => void): void {
  if (loaded.state) return void describe(name, fn);
  if (process.env.CI === 'true') throw new Error(`SSH end-to-end suite "${name}" needs the sshd testbed: ${loaded.reason}`);
  process.stderr.write(`[skip] ${name}: ${loaded.reason}\n`);
  // The suite body is not even collected: it reads the testbed state.
  describe.skip(`${name} (skipped: ${loaded.reason})`, () => void it.skip('needs the sshd testbed', () => {}));
}

/** A private corner of the cluster for one suite: its own root and run dir, so its own agent. */
export interface Sandbox {
  /** Remote root, `~/…` form. */
  root: string;
  runDir: string;
  /** Options for openRemote/connect against the testbed as `user`. */
  opts(extra?: RemoteOptions): RemoteOptions;
  /** Run a shell script on the main instance as the suite's user (data on stdin, never in the command). */
  sh(script: string, stdin?: Buffer): Promise<{ code: number | null; stdout: string; stderr: string }>;
  cleanup(): Promise<void>;
}

export function sandbox(label: string, user: 'main' | 'tcsh' = 'main'): Sandbox {
  const id = randomBytes(4).toString('hex');
  const root = `~/.clx-e2e-${label}-${id}`;
  const runDir = `/tmp/cxe-${id}`;
  const base = (): RemoteOptions => ({ configFiles: [bed.sshConfig], root, runDir, idleExitMs: 120_000, clientName: `e2e-${label}` });
  const login = `${bed.users[user]}@${bed.host}:${bed.instances.main.port}`;
  let ssh: SshSession | null = null;
  const session = async () => (ssh ??= await openSsh(login, { configFiles: [bed.sshConfig] }));
  return {
    root,
    runDir,
    opts: (extra = {}) => ({ ...base(), ...extra }),
    sh: async (script, stdin) => execScript((await session()).client, script, stdin ? { stdin } : {}),
    async cleanup() {
      const s = await session();
      await remoteAgentStop(s, { root, runDir }).catch(() => {});
      await execScript(s.client, `rm -rf "$HOME"/${shQuote(root.slice(2))} ${shQuote(runDir)}`);
      s.close();
      ssh = null;
    },
  };
}

/** `user@127.0.0.1:port` of an instance. */
export function login(instance: 'main' | 'noforward' | 'jump', user: 'main' | 'tcsh' | 'other' = 'main'): string {
  return `${bed.users[user]}@${bed.host}:${bed.instances[instance].port}`;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
