/** Agent management: status, agent stop [--all], for 'local' and SSH hosts. */
import type { Command } from 'commander';
import { Cluster } from '../cluster.js';
import { connect } from '../index.js';
import { runLocalAgent } from '../local.js';
import { agentBundle } from '../agent-bundle.js';
import { remoteAgentStatus, remoteAgentStop, stopAllAgents, type StopResult } from '../ssh/agent-control.js';
import { openSsh } from '../ssh/connect.js';
import { withSshDefaults } from '../ssh/defaults.js';
import { openRemote } from '../ssh/remote.js';
import { describeError, EXIT, exitCodeFor } from './exit.js';
import { out, type GlobalOptions } from './session.js';
import { parseHost } from './target.js';

interface AgentStatus {
  running: boolean;
  pid?: number;
  build?: string;
  installed?: boolean;
}

async function localStatus(g: GlobalOptions): Promise<AgentStatus> {
  const r = await runLocalAgent({ root: g.root, runDir: g.runDir }, 'status');
  try {
    return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as AgentStatus;
  } catch {
    throw new Error(`unexpected agent output: ${r.stdout}${r.stderr}`);
  }
}

async function printInfo(host: string, c: Cluster, g: GlobalOptions, extra: Record<string, unknown> = {}): Promise<void> {
  const t0 = performance.now();
  await c.ping();
  const rttMs = performance.now() - t0;
  const info = await c.info();
  if (g.json) return void (await out(JSON.stringify({ target: host, running: true, rttMs, ...info, ...extra }) + '\n'));
  await out(
    [
      `${host}: agent running`,
      `  pid ${info.pid} on ${info.host} as ${info.user}, build ${info.build}, protocol ${info.protocol}, node ${info.node}`,
      `  up ${Math.round(info.uptimeMs / 1000)} s, ${info.connections} connection(s), rss ${(info.rssBytes / 1048576).toFixed(1)} MiB, idle exit after ${Math.round(info.idleExitMs / 1000)} s`,
      `  socket ${info.runDir}/agent.sock, log ${info.logFile}`,
      ...(extra.tunnel ? [`  tunnel ${String(extra.tunnel)}`] : []),
      `  round trip ${rttMs.toFixed(2)} ms`,
    ].join('\n') + '\n',
  );
}

async function statusCommand(host: string, g: GlobalOptions): Promise<number> {
  if (host === 'local') {
    const st = await localStatus(g);
    if (!st.running) {
      await out(g.json ? JSON.stringify({ host, running: false }) + '\n' : `${host}: no agent running\n`);
      return EXIT.NOT_FOUND;
    }
    const c = await connect('local', { root: g.root, runDir: g.runDir, clientName: 'clustrix-cli status' });
    try {
      await printInfo(host, c, g);
    } finally {
      await c.close();
    }
    return EXIT.OK;
  }
  // SSH: ask the installed agent first, so status never installs or starts anything.
  const opts = withSshDefaults({ root: g.root, runDir: g.runDir, clientName: 'clustrix-cli status' });
  const ssh = await openSsh(host, opts);
  try {
    const st = await remoteAgentStatus(ssh, opts);
    const ours = agentBundle().build;
    if (!st.running) {
      const why = st.installed ? 'no agent running' : 'clustrix is not installed there';
      await out(g.json ? JSON.stringify({ host, running: false, installed: st.installed, agents: st.agents }) + '\n' : `${host}: ${why}\n`);
      return EXIT.NOT_FOUND;
    }
    if (st.build !== ours) {
      const msg = `${host}: agent pid ${st.pid} on ${st.host} runs build ${st.build}; this client ships ${ours} (the next connect replaces it)`;
      await out(g.json ? JSON.stringify({ host, ...st, clientBuild: ours }) + '\n' : msg + '\n');
      return EXIT.OK;
    }
    const remote = await openRemote(host, { ...opts, session: ssh, install: 'never' });
    const c = new Cluster(host, remote.conn, () => remote.close());
    try {
      await printInfo(host, c, g, { tunnel: remote.tunnel, agents: st.agents });
    } finally {
      await c.close();
    }
    return EXIT.OK;
  } finally {
    ssh.close();
  }
}

async function stopCommand(host: string, g: GlobalOptions, all: boolean): Promise<number> {
  let results: StopResult[];
  if (host === 'local') {
    const r = await runLocalAgent({ root: g.root, runDir: g.runDir }, 'stop');
    if (r.code !== 0) throw new Error(r.stderr || r.stdout);
    const res = JSON.parse(r.stdout.trim()) as StopResult;
    results = [{ ...res, host: 'local' }];
  } else {
    const opts = withSshDefaults({ root: g.root, runDir: g.runDir });
    const ssh = await openSsh(host, opts);
    try {
      results = all ? await stopAllAgents(ssh, opts) : [await remoteAgentStop(ssh, opts)];
    } finally {
      ssh.close();
    }
  }
  if (g.json) await out(results.map((r) => JSON.stringify(r)).join('\n') + '\n');
  else {
    for (const r of results) {
      await out(
        r.error ? `${r.host}: could not stop: ${r.error}\n` : r.stopped ? `${r.host}: stopped agent pid ${r.pid}\n` : `${r.host}: no agent was running\n`,
      );
    }
  }
  return results.some((r) => r.error) ? EXIT.FAILED : EXIT.OK;
}

export function registerAgentCommands(program: Command, globals: () => GlobalOptions): void {
  program
    .command('status')
    .description("show the agent of a host: running or not, pid, build, uptime, round-trip time (doesn't start one)")
    .argument('[host]', "'local' or an ssh target", 'local')
    .addHelpText('after', '\nExit status: 0 running, 3 not running, 5 cannot connect.\n\nExamples:\n  clustrix status\n  clustrix status --json mycluster')
    .action(async (operand: string) => {
      const g = globals();
      try {
        process.exitCode = await statusCommand(parseHost(operand), g);
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
    .option('--all', 'also stop the agents on the other login nodes listed in <root>/agents/ (reached through this host)')
    .addHelpText('after', '\nExamples:\n  clustrix agent stop\n  clustrix agent stop mycluster --all')
    .action(async (operand: string, o: { all?: boolean }) => {
      const g = globals();
      try {
        process.exitCode = await stopCommand(parseHost(operand), g, Boolean(o.all));
      } catch (err) {
        process.stderr.write(`clustrix agent stop: ${describeError(err)}\n`);
        process.exitCode = exitCodeFor(err);
      }
    });
}
