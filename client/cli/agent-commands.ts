/** Agent management: status, agent stop. */
import type { Command } from 'commander';
import { runLocalAgent } from '../local.js';
import { connect } from '../index.js';
import { describeError, EXIT, exitCodeFor } from './exit.js';
import { out, type GlobalOptions } from './session.js';
import { parseHost } from './target.js';

export function registerAgentCommands(program: Command, globals: () => GlobalOptions): void {
  program
    .command('status')
    .description("show the agent of a host: running or not, pid, build, uptime, round-trip time (doesn't start one)")
    .argument('[host]', "'local' or an ssh target", 'local')
    .addHelpText('after', '\nExit status: 0 running, 3 not running, 5 cannot connect.\n\nExamples:\n  clustrix status\n  clustrix status --json mycluster')
    .action(async (operand: string) => {
      const g = globals();
      const host = parseHost(operand);
      if (host !== 'local') {
        process.stderr.write('clustrix status: SSH targets are not available in this build yet\n');
        process.exitCode = EXIT.CONNECTION;
        return;
      }
      const opts = { root: g.root, runDir: g.runDir };
      const r = await runLocalAgent(opts, 'status');
      let st: { running: boolean; pid?: number; build?: string; socket?: string };
      try {
        st = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}');
      } catch {
        process.stderr.write(`clustrix status: unexpected agent output: ${r.stdout}${r.stderr}\n`);
        process.exitCode = EXIT.FAILED;
        return;
      }
      if (!st.running) {
        await out(g.json ? JSON.stringify({ host, running: false }) + '\n' : `${host}: no agent running\n`);
        process.exitCode = EXIT.NOT_FOUND;
        return;
      }
      try {
        const c = await connect('local', { ...opts, clientName: 'clustrix-cli status' });
        const t0 = performance.now();
        await c.ping();
        const rttMs = performance.now() - t0;
        const info = await c.info();
        await c.close();
        if (g.json) await out(JSON.stringify({ target: host, running: true, rttMs, ...info }) + '\n');
        else {
          await out(
            [
              `${host}: agent running`,
              `  pid ${info.pid} on ${info.host} as ${info.user}, build ${info.build}, protocol ${info.protocol}, node ${info.node}`,
              `  up ${Math.round(info.uptimeMs / 1000)} s, ${info.connections} connection(s), rss ${(info.rssBytes / 1048576).toFixed(1)} MiB, idle exit after ${Math.round(info.idleExitMs / 1000)} s`,
              `  socket ${info.runDir}/agent.sock, log ${info.logFile}`,
              `  round trip ${rttMs.toFixed(2)} ms`,
            ].join('\n') + '\n',
          );
        }
      } catch (err) {
        process.stderr.write(`clustrix status: ${describeError(err)}\n`);
        process.exitCode = exitCodeFor(err);
      }
    });

  const agent = program.command('agent').description('manage the agent process');
  agent
    .command('stop')
    .description('stop the agent of a host (its clients are disconnected)')
    .argument('[host]', "'local' or an ssh target", 'local')
    .action(async (operand: string) => {
      const g = globals();
      const host = parseHost(operand);
      if (host !== 'local') {
        process.stderr.write('clustrix agent stop: SSH targets are not available in this build yet\n');
        process.exitCode = EXIT.CONNECTION;
        return;
      }
      const r = await runLocalAgent({ root: g.root, runDir: g.runDir }, 'stop');
      if (r.code !== 0) {
        process.stderr.write(`clustrix agent stop: ${r.stderr || r.stdout}`);
        process.exitCode = EXIT.FAILED;
        return;
      }
      const res = JSON.parse(r.stdout.trim()) as { stopped: boolean; pid?: number };
      await out(g.json ? r.stdout : res.stopped ? `${host}: stopped agent pid ${res.pid}\n` : `${host}: no agent was running\n`);
    });
}
