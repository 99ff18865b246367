/**
 * `clustrix doctor <host>`: walk the path of one request step by step and
 * say, for each, what was checked, what was found, and what to do when it
 * fails: config, DNS, TCP, host key, auth, node runtime, agent version,
 * forwarding, socket, round-trip time, and the persistent connection. Stops at the first failing step
 * (later ones cannot be checked without it).
 */
import { lookup } from 'node:dns/promises';
import type { Command } from 'commander';
import { agentPing } from '../../protocol/index.js';
import { agentBundle } from '../agent-bundle.js';
import { Connection } from '../connection.js';
import { ConnectionError } from '../errors.js';
import { describeMux } from '../mux/status.js';
import { muxSocketPath } from '../mux/paths.js';
import { cacheKey } from '../ssh/agent-cache.js';
import { remoteAgentStatus } from '../ssh/agent-control.js';
import { agentPlace, startRemoteAgent } from '../ssh/agent-start.js';
import { openSsh, tcpConnect, type SshSession } from '../ssh/connect.js';
import { probeHost } from '../ssh/install.js';
import { chooseNode, DEFAULT_MODULE_CANDIDATES, describeSource } from '../ssh/node-runtime.js';
import { describeHost, resolveHost } from '../ssh/resolve.js';
import { openExecBridge, openStreamLocal } from '../ssh/tunnel.js';
import { describeError, EXIT, UsageError } from './exit.js';
import { addInstallOptions, installOptions, type InstallFlags } from './install-command.js';
import { persistMsFromEnv } from './mux-commands.js';
import { out, type GlobalOptions } from './session.js';
import { parseHost } from './target.js';

interface Step {
  step: string;
  ok: boolean;
  detail: string;
  hint?: string;
  ms?: number;
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;

export function registerDoctorCommand(program: Command, globals: () => GlobalOptions): void {
  addInstallOptions(
    program
      .command('doctor')
      .description('check every step from here to the agent on a host and explain what fails')
      .argument('<host>', 'ssh alias or user@host[:port]'),
  )
    .option('--install', 'install the agent if it is missing (otherwise doctor only reports it)')
    .action(async (operand: string, o: InstallFlags & { install?: boolean }) => {
      const g = globals();
      const host = parseHost(operand);
      const steps: Step[] = [];
      const say = async (s: Step) => {
        steps.push(s);
        if (!g.json)
          await out(`${s.ok ? '✓' : '✗'} ${s.step}: ${s.detail}${s.ms !== undefined ? ` (${s.ms.toFixed(1)} ms)` : ''}\n${s.hint ? `    → ${s.hint}\n` : ''}`);
        return s.ok;
      };
      const timed = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
        const t0 = performance.now();
        const v = await fn();
        return [v, performance.now() - t0];
      };
      let ssh: SshSession | null = null;
      let usage = false;
      try {
        if (host === 'local') throw new UsageError('doctor checks SSH hosts; for local use `clustrix status`');
        const opts = { ...installOptions(g, o), clientName: 'clustrix-cli doctor' };
        const h = resolveHost(host, opts.configFiles);
        const first = h.jumps[0] ?? h;
        await say({
          step: 'config',
          ok: true,
          detail: `${describeHost(h)}${h.jumps.length ? ` via ${h.jumps.map(describeHost).join(' → ')}` : ''}; keys: ${h.identityFiles.join(', ')}${h.identitiesOnly ? ' (IdentitiesOnly)' : ''}`,
        });
        if (!first.proxyCommand) {
          try {
            const [addr, ms] = await timed(() => lookup(first.hostname));
            await say({ step: 'dns', ok: true, detail: `${first.hostname} → ${addr.address}`, ms });
          } catch (err) {
            return void (await say({ step: 'dns', ok: false, detail: (err as Error).message, hint: 'check the HostName in ~/.ssh/config, VPN and DNS' }));
          }
          try {
            const [sock, ms] = await timed(() => tcpConnect(first.hostname, first.port, 10_000));
            sock.destroy();
            await say({ step: 'tcp', ok: true, detail: `${first.hostname}:${first.port} accepts connections`, ms });
          } catch (err) {
            return void (await say({ step: 'tcp', ok: false, detail: (err as Error).message, hint: 'firewall, VPN, wrong Port, or the login node is down' }));
          }
        }
        try {
          const [s, ms] = await timed(() => openSsh(h, opts));
          ssh = s;
          const hk = s.hostKeys.at(-1);
          await say({
            step: 'host key',
            ok: true,
            detail: `${hk?.name} ${hk?.presented?.type} ${hk?.presented?.fingerprint} (${hk?.verdict?.status === 'known' ? 'known' : 'new, recorded'})`,
          });
          await say({ step: 'auth', ok: true, detail: `logged in as ${h.user}`, ms });
        } catch (err) {
          const e = err as ConnectionError;
          if (e.kind === 'host-key') return void (await say({ step: 'host key', ok: false, detail: e.message }));
          await say({ step: 'host key', ok: true, detail: 'verified' });
          return void (await say({ step: 'auth', ok: false, detail: e.message, hint: 'is the key loaded in ssh-agent (ssh-add -l)? does `ssh HOST` work?' }));
        }
        const [probe, probeMs] = await timed(() => probeHost(ssh!.client, { ...opts, build: agentBundle().build }));
        const node = chooseNode(probe);
        const modules = opts.nodeModules ?? DEFAULT_MODULE_CANDIDATES;
        const seen = probe.candidates.map((c) => `${c.source}: ${c.path} ${c.version || '(does not run)'}`).join('; ') || 'none';
        await say(
          node
            ? {
                step: 'node runtime',
                ok: true,
                detail: `${node.path} ${node.version} (${describeSource(node.source, modules)}); ${probe.os} ${probe.arch} ${probe.libc}`,
                ms: probeMs,
              }
            : {
                step: 'node runtime',
                ok: o.install === true,
                detail: `no Node >= 18 found (seen: ${seen})`,
                hint: 'pass --node PATH or --module NAME, or let install upload one (--upload-node)',
              },
        );
        const st = await remoteAgentStatus(ssh, opts);
        const ours = agentBundle().build;
        const running = st.running ? `running: pid ${st.pid} build ${st.build}${st.build === ours ? '' : ` (will be replaced by ${ours})`}` : 'not running';
        const installed = st.installed ? `installed` : 'not installed';
        if (!st.installed && !o.install) {
          return void (await say({
            step: 'agent',
            ok: false,
            detail: `${installed}; client build ${ours}`,
            hint: `run \`clustrix install ${host}\` (or doctor --install)`,
          }));
        }
        await say({ step: 'agent', ok: true, detail: `${installed}, ${running}; client build ${ours}` });
        const [info, startMs] = await timed(() => startRemoteAgent(ssh!.client, opts));
        await say({ step: 'agent start', ok: true, detail: `${info.how}: pid ${info.pid}, socket ${info.socket}`, ms: startMs });
        let stream;
        try {
          const [ch, ms] = await timed(() => openStreamLocal(ssh!.client, info.socket));
          stream = ch;
          await say({ step: 'forwarding', ok: true, detail: 'stream-local forwarding to the agent socket works (preferred path)', ms });
        } catch (err) {
          await say({
            step: 'forwarding',
            ok: true,
            detail: `stream-local refused (${(err as Error).message}); trying the exec bridge`,
            hint: 'the site sets AllowStreamLocalForwarding no: works, each connection starts a small bridge process',
          });
          try {
            const place = { ...agentPlace(opts, ours), root: info.root, runDir: info.runDir };
            const [b, ms] = await timed(() => openExecBridge(ssh!.client, place));
            stream = b;
            await say({ step: 'exec bridge', ok: true, detail: 'bridge process started', ms });
          } catch (e2) {
            return void (await say({
              step: 'exec bridge',
              ok: false,
              detail: (e2 as Error).message,
              hint: 'both stream-local forwarding and exec are refused: ask the site to allow one',
            }));
          }
        }
        let conn: Connection;
        try {
          const [c, ms] = await timed(() => Connection.open(stream, { token: info.token, clientName: 'clustrix-cli doctor' }));
          conn = c;
          await say({ step: 'socket', ok: true, detail: `agent answered hello (protocol ${c.welcome.v}, build ${c.welcome.build})`, ms });
        } catch (err) {
          return void (await say({ step: 'socket', ok: false, detail: (err as Error).message, hint: 'stop the agent (`clustrix agent stop HOST`) and retry' }));
        }
        const rtts: number[] = [];
        for (let i = 0; i < 20; i++) {
          const t0 = performance.now();
          await conn.call(agentPing, {});
          rtts.push(performance.now() - t0);
        }
        await conn.close();
        await say({
          step: 'round trip',
          ok: true,
          detail: `p50 ${pct(rtts, 50).toFixed(2)} ms, p99 ${pct(rtts, 99).toFixed(2)} ms over ${rtts.length} pings; SSH handshake took ${ssh.handshakeMs.toFixed(0)} ms`,
        });
        await say({ step: 'persistent connection', ok: true, ...describeMux(muxSocketPath(cacheKey(ssh.host, g.root, g.runDir)), persistMsFromEnv()) });
      } catch (err) {
        usage = err instanceof UsageError;
        await say({ step: 'error', ok: false, detail: describeError(err) });
      } finally {
        ssh?.close();
        if (g.json) await out(JSON.stringify({ host, ok: steps.every((s) => s.ok), steps }) + '\n');
        process.exitCode = usage ? EXIT.USAGE : steps.every((s) => s.ok) ? EXIT.OK : EXIT.CONNECTION;
      }
    });
}
