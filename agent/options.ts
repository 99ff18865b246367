/** Command-line options of agent.mjs (parsed with node:util, no dependency). */
import { homedir, hostname } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AGENT_DEFAULTS } from '../protocol/index.js';
import { defaultRunDir } from './rundir.js';

export interface AgentOptions {
  command: string;
  /** Shared root: agent bundles, jobs, envs, logs. Default ~/.clustrix. */
  root: string;
  /** Node-local run dir for socket, lock and token. */
  runDir: string;
  idleExitMs: number;
  logLevel: string;
  host: string;
}

export function parseAgentArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): AgentOptions {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      root: { type: 'string' },
      'run-dir': { type: 'string' },
      'idle-exit-ms': { type: 'string' },
      'log-level': { type: 'string' },
    },
  });
  const idle = values['idle-exit-ms'] ?? env.CLUSTRIX_IDLE_EXIT_MS;
  const idleExitMs = idle === undefined ? AGENT_DEFAULTS.idleExitMs : Number(idle);
  if (!Number.isFinite(idleExitMs) || idleExitMs < 0) throw new Error(`--idle-exit-ms must be a number of milliseconds >= 0, got ${idle}`);
  return {
    command: positionals[0] ?? 'help',
    root: values.root ?? env.CLUSTRIX_ROOT ?? join(homedir(), '.clustrix'),
    runDir: values['run-dir'] ?? defaultRunDir(env),
    idleExitMs,
    logLevel: values['log-level'] ?? env.CLUSTRIX_LOG_LEVEL ?? 'info',
    host: hostname(),
  };
}

export function toArgv(o: AgentOptions): string[] {
  return ['--root', o.root, '--run-dir', o.runDir, '--idle-exit-ms', String(o.idleExitMs), '--log-level', o.logLevel];
}
