/**
 * `clustrix install <host>`: put this client's agent on a cluster and start
 * it, saying what was found and chosen (node runtime, root, build). The same
 * thing happens automatically on first connect; this makes it explicit, and
 * is where the first-contact options live (accept a new host key, pick a node).
 */
import type { Command } from 'commander';
import { agentInfo } from '../../protocol/index.js';
import { agentBundle } from '../agent-bundle.js';
import { openSsh } from '../ssh/connect.js';
import { withSshDefaults } from '../ssh/defaults.js';
import { installAgent } from '../ssh/install.js';
import { openRemote } from '../ssh/remote.js';
import { describeError, exitCodeFor, UsageError } from './exit.js';
import { out, type GlobalOptions } from './session.js';
import { parseHost } from './target.js';

export interface InstallFlags {
  acceptNewHostKey?: boolean;
  node?: string;
  uploadNode?: string | boolean;
  module?: string[];
  force?: boolean;
}

/** SSH/install options shared by `install` and `doctor`. */
export function addInstallOptions(cmd: Command): Command {
  return cmd
    .option('--accept-new-host-key', 'trust and record the host key if it is not in known_hosts yet (like StrictHostKeyChecking=accept-new)')
    .option('--node <path>', 'node binary on the cluster (skips detection)')
    .option(
      '--module <name>',
      'environment module providing node, tried with `module load` (repeatable; default nodejs, node)',
      (v: string, p: string[] = []) => [...p, v],
    )
    .option('--upload-node <path>', "local node binary to upload if the cluster has none (default: this client's own, when OS/arch/libc match)")
    .option('--no-upload-node', 'never upload a node runtime');
}

export function installOptions(g: GlobalOptions, o: InstallFlags) {
  const opts = withSshDefaults({ root: g.root, runDir: g.runDir, clientName: 'clustrix-cli install' });
  if (o.acceptNewHostKey) opts.acceptNewHostKey = true;
  if (o.node) opts.nodePath = o.node;
  if (o.module) opts.nodeModules = o.module;
  if (o.uploadNode === false) opts.uploadNode = false;
  else if (typeof o.uploadNode === 'string') opts.uploadNode = o.uploadNode;
  return opts;
}

export function registerInstallCommand(program: Command, globals: () => GlobalOptions): void {
  addInstallOptions(
    program
      .command('install')
      .description('install (or update) the agent on a cluster and start it; reports the node runtime chosen')
      .argument('<host>', 'ssh alias or user@host[:port]'),
  )
    .option('--force', 'upload and verify the bundle again even if this build is installed')
    .addHelpText(
      'after',
      '\nExamples:\n  clustrix install mycluster\n  clustrix --root /project/me/.clustrix install mycluster --module nodejs/20\n  clustrix install me@login.hpc.example.org:2222 --accept-new-host-key',
    )
    .action(async (operand: string, o: InstallFlags) => {
      const g = globals();
      const host = parseHost(operand);
      try {
        if (host === 'local') throw new UsageError("install is for SSH hosts; 'local' installs itself on first use");
        const opts = installOptions(g, o);
        const t0 = performance.now();
        const ssh = await openSsh(host, opts);
        try {
          const report = o.force ? await installAgent(ssh.client, opts) : undefined;
          const remote = await openRemote(host, { ...opts, session: ssh });
          const info = await remote.conn.call(agentInfo, {});
          await remote.close();
          const inst = report ?? remote.info.install;
          const result = {
            host,
            build: agentBundle().build,
            root: remote.info.root,
            installed: inst !== undefined,
            node: inst ? { path: inst.node.path, version: inst.node.version, why: inst.node.why, uploaded: inst.node.uploaded } : { version: info.node },
            os: inst ? `${inst.probe.os} ${inst.probe.arch} ${inst.probe.libc}` : `${info.platform} ${info.arch}`,
            agent: { pid: info.pid, host: info.host, how: remote.info.how, tunnel: remote.tunnel },
            ms: Math.round(performance.now() - t0),
          };
          if (g.json) return void (await out(JSON.stringify(result) + '\n'));
          await out(
            [
              `${host}: agent build ${result.build} ${inst ? 'installed' : 'already installed'} in ${result.root}/agent/${result.build}`,
              `  cluster: ${result.os}`,
              inst ? `  node: ${inst.node.path} ${inst.node.version} (${inst.node.why})` : `  node: ${info.node}`,
              `  agent: pid ${info.pid} on ${info.host} (${remote.info.how}), tunnel ${remote.tunnel}`,
              `  done in ${result.ms} ms`,
            ].join('\n') + '\n',
          );
        } finally {
          ssh.close();
        }
      } catch (err) {
        process.stderr.write(`clustrix install: ${describeError(err)}\n`);
        process.exitCode = exitCodeFor(err);
      }
    });
}
