/**
 * Install the agent on a cluster: probe the host (OS, arch, libc, node
 * candidates) in one exec, upload a runtime if none is usable, upload the
 * bundle over SFTP to a temp name, verify it by running its own `version`
 * (which hashes the file it was loaded from), rename atomically into
 * `<root>/agent/<build>/agent.mjs`, and record the node used beside it.
 */
import type { Client } from 'ssh2';
import { agentBundle, type AgentBundle } from '../agent-bundle.js';
import { ConnectionError } from '../errors.js';
import {
  chooseNode,
  DEFAULT_MODULE_CANDIDATES,
  describeSource,
  nodeMajor,
  MIN_NODE_MAJOR,
  parseProbe,
  selfRuntimeMismatch,
  uploadedNodePath,
  type NodeCandidate,
  type ProbeResult,
} from './node-runtime.js';
import { execScript, tail } from './remote-exec.js';
import { installScript, MARK, mkdirScript, placeNodeScript, probeScript, type AgentPlace } from './scripts.js';
import { fileHash16, openSftp, tempName, upload, type ProgressFn } from './upload.js';

export interface InstallOptions {
  /** Root on the cluster. Default ~/.clustrix (use a project/scratch dir where $HOME quotas are small). */
  root?: string;
  /** Node binary on the cluster; skips detection. */
  nodePath?: string;
  /** Environment modules to try (`module load X`) when no node is on the PATH. Default ['nodejs', 'node']. */
  nodeModules?: string[];
  /**
   * When no usable node is found: upload this local node binary, or 'self'
   * (this client's own, if OS/arch/libc match), or false to fail instead. Default 'self'.
   */
  uploadNode?: string | false;
  /** Upload a runtime (per uploadNode) even when the cluster has a usable node, e.g. when the site's one is broken. */
  forceUploadNode?: boolean;
  /** Upload progress (the CLI draws a bar on a TTY). */
  onProgress?: ProgressFn;
  /** The bundle to install. Default: the one this client ships. */
  bundle?: AgentBundle;
  signal?: AbortSignal;
}

export interface InstallReport {
  build: string;
  /** Absolute root on the cluster. */
  root: string;
  node: NodeCandidate & { why: string; uploaded: boolean };
  probe: ProbeResult;
  uploadedBytes: number;
}

function place(opts: InstallOptions, build: string): AgentPlace {
  return { root: opts.root, build, nodePath: opts.nodePath };
}

export async function probeHost(ssh: Client, opts: InstallOptions & { build: string }): Promise<ProbeResult> {
  const modules = opts.nodeModules ?? DEFAULT_MODULE_CANDIDATES;
  const r = await execScript(ssh, probeScript(place(opts, opts.build), modules), { signal: opts.signal, timeoutMs: 120_000 });
  const probe = parseProbe(r.stdout);
  if (!probe) throw new ConnectionError('handshake', `could not inspect the cluster (exit ${r.code}): ${tail(r.stderr || r.stdout)}`);
  return probe;
}

async function uploadRuntime(ssh: Client, probe: ProbeResult, opts: InstallOptions): Promise<NodeCandidate & { why: string; uploaded: boolean }> {
  const modules = opts.nodeModules ?? DEFAULT_MODULE_CANDIDATES;
  const tried = `no Node.js >= ${MIN_NODE_MAJOR} found on the cluster (checked: ${opts.nodePath ? 'the configured path, ' : ''}PATH, login shell, ${modules.map((m) => `module load ${m}`).join(', ')})`;
  const want = opts.uploadNode ?? 'self';
  if (want === false) throw new ConnectionError('handshake', `${tried}; pass nodePath (CLI: --node PATH) or allow uploading a runtime`);
  let local = want;
  if (want === 'self') {
    const why = selfRuntimeMismatch(probe);
    if (why)
      throw new ConnectionError(
        'handshake',
        `${tried}, and this client's own node cannot run there (${why}); pass uploadNode with a matching node binary (CLI: --upload-node PATH)`,
      );
    local = process.execPath;
  }
  const final = uploadedNodePath(probe.root, await fileHash16(local), probe);
  const dir = final.slice(0, final.lastIndexOf('/'));
  const mk = await execScript(ssh, mkdirScript(dir), { signal: opts.signal });
  if (!mk.stdout.includes(MARK.installed)) throw new ConnectionError('handshake', `cannot create ${dir} on the cluster: ${tail(mk.stderr || mk.stdout)}`);
  const sftp = await openSftp(ssh);
  const tmp = tempName(final);
  try {
    await upload(sftp, local, tmp, 0o755, 'node runtime', opts.onProgress);
  } finally {
    sftp.end();
  }
  const r = await execScript(ssh, placeNodeScript(tmp, final), { signal: opts.signal });
  const line = r.stdout.split('\n').find((l) => l.startsWith(MARK.installed));
  const version = line?.slice(MARK.installed.length).trim() ?? '';
  if (!line || nodeMajor(version) < MIN_NODE_MAJOR) {
    throw new ConnectionError(
      'handshake',
      `the uploaded runtime ${local} does not run on the cluster or is older than Node ${MIN_NODE_MAJOR}: ${tail(r.stdout || r.stderr)}`,
    );
  }
  return { source: 'uploaded', path: final, version, why: `uploaded ${want === 'self' ? "this client's own node" : local}`, uploaded: true };
}

/** Install the bundle (and a runtime if needed). Idempotent: installing the same build again is harmless. */
export async function installAgent(ssh: Client, opts: InstallOptions = {}): Promise<InstallReport> {
  const bundle = opts.bundle ?? agentBundle();
  const probe = await probeHost(ssh, { ...opts, build: bundle.build });
  if (!probe.mkdirOk)
    throw new ConnectionError('handshake', `cannot create ${probe.root}/agent/${bundle.build} on the cluster (permissions or quota?); choose another root`);
  const found = opts.forceUploadNode ? null : chooseNode(probe);
  const modules = opts.nodeModules ?? DEFAULT_MODULE_CANDIDATES;
  const node = found ? { ...found, why: describeSource(found.source, modules), uploaded: false } : await uploadRuntime(ssh, probe, opts);

  const dir = `${probe.root}/agent/${bundle.build}`;
  // Keeps the .mjs extension: node decides the module format from it when verifying.
  const tmp = `.${tempName('agent')}.mjs`;
  const sftp = await openSftp(ssh);
  try {
    await upload(sftp, bundle.path && !opts.bundle ? bundle.path : bundle.bytes, `${dir}/${tmp}`, 0o600, 'agent bundle', opts.onProgress);
  } finally {
    sftp.end();
  }
  const r = await execScript(ssh, installScript({ ...place(opts, bundle.build), tmp, node: node.path }), { signal: opts.signal });
  if (!r.stdout.includes(MARK.installed)) {
    const at = r.stdout.indexOf(MARK.badHash);
    const bad = at >= 0 ? r.stdout.slice(at) : null;
    throw new ConnectionError(
      'handshake',
      bad
        ? `the uploaded agent did not verify (expected build ${bundle.build}): ${bad.slice(MARK.badHash.length).trim().slice(0, 400)}`
        : `installing the agent failed (exit ${r.code}): ${tail(r.stderr || r.stdout)}`,
    );
  }
  return { build: bundle.build, root: probe.root, node, probe, uploadedBytes: bundle.bytes.length };
}
