/**
 * agent.mjs entry point. Commands:
 *   start    find the live agent of this user on this host or start one; print ONE magic-prefixed JSON line
 *   serve    run the agent in the foreground (what start launches, detached)
 *   stop     stop this host's agent
 *   status   print this host's agent info as JSON (exit 3 if none)
 *   bridge   relay stdin/stdout to the agent socket (SSH fallback tunnel)
 *   version  print build and protocol
 * Options: --root DIR  --run-dir DIR  --idle-exit-ms N  --log-level LEVEL
 */
import { PROTOCOL_VERSION } from '../protocol/index.js';
import { ownBuild } from './build-info.js';
import { bridge } from './bridge.js';
import { findRunning, listRegistry, startAgent, startLine, stopAgent } from './lifecycle.js';
import { parseAgentArgs } from './options.js';
import { runPaths } from './rundir.js';
import { serve } from './serve.js';

async function main(argv: string[]): Promise<number> {
  const opts = parseAgentArgs(argv);
  switch (opts.command) {
    case 'start': {
      const info = await startAgent(opts);
      process.stdout.write(startLine(info) + '\n');
      return 0;
    }
    case 'serve': {
      const fd = process.env.CLUSTRIX_READY_FD ? Number(process.env.CLUSTRIX_READY_FD) : null;
      delete process.env.CLUSTRIX_READY_FD;
      const listening = await serve(opts, fd);
      return listening ? -1 : Number(process.exitCode ?? 0);
    }
    case 'stop': {
      const r = await stopAgent(opts);
      process.stdout.write(JSON.stringify({ host: opts.host, ...r }) + '\n');
      return 0;
    }
    case 'status': {
      const running = await findRunning(opts);
      const out = running
        ? { running: true, host: opts.host, pid: running.pid, build: running.build, socket: running.socket, agents: listRegistry(opts.root) }
        : { running: false, host: opts.host, agents: listRegistry(opts.root) };
      process.stdout.write(JSON.stringify(out) + '\n');
      return running ? 0 : 3;
    }
    case 'bridge':
      return bridge(runPaths(opts.runDir).socket);
    case 'version':
      process.stdout.write(JSON.stringify({ build: ownBuild(), protocol: PROTOCOL_VERSION, node: process.version }) + '\n');
      return 0;
    default:
      process.stderr.write('usage: agent.mjs start|serve|stop|status|bridge|version [--root DIR] [--run-dir DIR] [--idle-exit-ms N]\n');
      return opts.command === 'help' ? 0 : 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    // serve keeps running (its server holds the event loop); others exit now.
    if (code >= 0) process.exit(code);
  },
  (err: Error) => {
    process.stderr.write(`clustrix agent: ${err.message}\n`);
    process.exit(1);
  },
);
