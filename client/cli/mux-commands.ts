/**
 * `clustrix mux list|stop [host]` and the hidden `mux serve <host>`: the
 * background SSH connections the CLI keeps per host (see docs/SSH.md,
 * "Persistent connections"), like OpenSSH's ControlPersist.
 */
import type { Command } from 'commander';
import { stopMux } from '../mux/client.js';
import { muxSocketPath } from '../mux/paths.js';
import { listMuxRecords } from '../mux/registry.js';
import { serveMux } from '../mux/serve.js';
import { cacheKey } from '../ssh/agent-cache.js';
import { resolveHost } from '../ssh/resolve.js';
import { EXIT, UsageError } from './exit.js';
import { out, type GlobalOptions } from './session.js';

/** CLUSTRIX_PERSIST_MS: how long the CLI keeps a host's SSH connection after its last command; 0 turns it off. */
export const DEFAULT_PERSIST_MS = 10 * 60_000;

export function persistMsFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.CLUSTRIX_PERSIST_MS;
  if (v === undefined || v === '') return DEFAULT_PERSIST_MS;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0)
    throw new UsageError(`CLUSTRIX_PERSIST_MS must be a number of milliseconds >= 0 (0 turns persistent connections off), got ${v}`);
  return Math.floor(n);
}

export function registerMuxCommands(program: Command, globals: () => GlobalOptions): void {
  const mux = program.command('mux').description('the SSH connections kept in the background per host, so the next command skips the SSH handshake');

  mux
    .command('list')
    .description('list the running persistent connections')
    .addHelpText('after', '\nExamples:\n  clustrix mux list\n  clustrix mux list --json')
    .action(async () => {
      const g = globals();
      const rs = listMuxRecords();
      if (g.json) return void (await out(JSON.stringify(rs) + '\n'));
      if (rs.length === 0) return void (await out('no persistent connections\n'));
      for (const r of rs)
        await out(`${r.target}: pid ${r.pid}, up ${Math.round((Date.now() - r.startedAt) / 1000)} s, exits after ${Math.round(r.idleMs / 1000)} s idle\n`);
    });

  mux
    .command('stop [host]')
    .description("stop a host's persistent connection (all of them without a host); the agents keep running")
    .addHelpText(
      'after',
      '\nExit status: 0 stopped, 3 none was running for that host.\n\nExamples:\n  clustrix mux stop mycluster\n  clustrix mux stop\n  CLUSTRIX_PERSIST_MS=0 clustrix ls mycluster:   # one command without leaving one behind',
    )
    .action(async (host?: string) => {
      const g = globals();
      const sockets = host ? [muxSocketPath(cacheKey(resolveHost(host), g.root, g.runDir))] : listMuxRecords().map((r) => r.socket);
      let stopped = 0;
      for (const s of sockets) if (await stopMux(s)) stopped++;
      await out(g.json ? JSON.stringify({ stopped }) + '\n' : `stopped ${stopped} persistent connection(s)\n`);
      if (host && stopped === 0) process.exitCode = EXIT.NOT_FOUND;
    });

  mux
    .command('serve <host>', { hidden: true })
    .description('run the persistent connection of <host> (started by other commands)')
    .option('--idle-ms <n>', 'exit after this long with no client', String(DEFAULT_PERSIST_MS))
    .option('--socket <path>', 'listen here (in the mux dir) instead of the path derived from <host>')
    .action(async (host: string, o: { idleMs: string; socket?: string }) => {
      const g = globals();
      const idleMs = Number(o.idleMs);
      if (!Number.isFinite(idleMs) || idleMs <= 0) throw new UsageError(`--idle-ms must be a positive number of milliseconds, got ${o.idleMs}`);
      try {
        await serveMux({ target: host, idleMs, root: g.root, runDir: g.runDir, socket: o.socket });
      } catch (err) {
        process.stderr.write(`clustrix mux: ${(err as Error).message}\n`);
        process.exitCode = EXIT.FAILED;
        return;
      }
      process.exit(EXIT.OK);
    });
}
