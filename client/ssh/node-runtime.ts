/**
 * Choosing the Node.js that runs the agent on the cluster. In order: the
 * configured path, the one recorded at the last install, `node` on the exec
 * PATH, `node` found by a login shell (where .bash_profile / modules set
 * PATH), `module load` candidates, and finally uploading a runtime: the one
 * the user names, or this client's own binary when OS, arch and libc match.
 */
import { MARK } from './scripts.js';

/** The agent bundle targets Node 18 (see scripts/build.mjs). */
export const MIN_NODE_MAJOR = 18;

export const DEFAULT_MODULE_CANDIDATES = ['nodejs', 'node'];

export interface NodeCandidate {
  source: string;
  path: string;
  version: string;
}

export interface ProbeResult {
  os: string;
  arch: string;
  /** 'musl', 'glibc-2.36', or '' when unknown. */
  libc: string;
  home: string;
  /** Absolute root on the cluster. */
  root: string;
  shell: string;
  mkdirOk: boolean;
  candidates: NodeCandidate[];
}

export function parseProbe(stdout: string): ProbeResult | null {
  const start = stdout.indexOf(MARK.probe + '\n');
  if (start < 0) return null;
  const body = stdout.slice(start + MARK.probe.length + 1);
  const end = body.indexOf(MARK.end);
  const r: ProbeResult = { os: '', arch: '', libc: '', home: '', root: '', shell: '', mkdirOk: false, candidates: [] };
  for (const line of (end >= 0 ? body.slice(0, end) : body).split('\n')) {
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const k = line.slice(0, eq);
    const v = line.slice(eq + 1);
    if (k.startsWith('node.')) {
      const [path = '', version = ''] = v.split('\t');
      if (path) r.candidates.push({ source: k.slice(5), path, version: version.trim() });
    } else if (k === 'mkdir') r.mkdirOk = v === 'ok';
    else if (k === 'os' || k === 'arch' || k === 'libc' || k === 'home' || k === 'root' || k === 'shell') r[k] = v;
  }
  return r;
}

export function nodeMajor(version: string): number {
  const m = /^v(\d+)\./.exec(version.trim());
  return m ? Number(m[1]) : 0;
}

const SOURCE_LABEL: Record<string, string> = {
  configured: 'the configured node path',
  recorded: 'the node recorded at install',
  path: 'node on the PATH',
  login: 'node found by the login shell',
  uploaded: 'a runtime uploaded by an earlier install',
};

export function describeSource(source: string, moduleCandidates: readonly string[]): string {
  if (source.startsWith('module')) return `\`module load ${moduleCandidates[Number(source.slice(6))] ?? '?'}\``;
  return SOURCE_LABEL[source] ?? source;
}

/** The first usable candidate, in preference order; null if none runs Node ≥ 18. */
export function chooseNode(p: ProbeResult): NodeCandidate | null {
  const fixed: Record<string, number> = { configured: 0, recorded: 1, path: 2, login: 3, uploaded: 1000 };
  const order = (s: string) => fixed[s] ?? 4 + Number(s.slice(6));
  const usable = p.candidates.filter((c) => nodeMajor(c.version) >= MIN_NODE_MAJOR && c.path.startsWith('/'));
  usable.sort((a, b) => order(a.source) - order(b.source));
  return usable[0] ?? null;
}

const ARCH: Record<string, string[]> = { x64: ['x86_64', 'amd64'], arm64: ['aarch64', 'arm64'], ppc64: ['ppc64le', 'ppc64'], s390x: ['s390x'] };
const OS: Record<string, string> = { linux: 'Linux', darwin: 'Darwin', freebsd: 'FreeBSD' };

function localLibc(): string {
  if (process.platform !== 'linux') return '';
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return header?.glibcVersionRuntime ? `glibc-${header.glibcVersionRuntime}` : 'musl';
}

/** Can this client's own node binary run on the probed host? Returns why not, or null if it can. */
export function selfRuntimeMismatch(p: ProbeResult): string | null {
  if (OS[process.platform] !== p.os) return `cluster OS is ${p.os || 'unknown'}, this machine runs ${process.platform}`;
  if (!(ARCH[process.arch] ?? [process.arch]).includes(p.arch)) return `cluster arch is ${p.arch || 'unknown'}, this machine is ${process.arch}`;
  const mine = localLibc();
  const family = (s: string) => s.split('-')[0];
  if (process.platform === 'linux' && family(mine) !== family(p.libc)) return `cluster libc is ${p.libc || 'unknown'}, this machine uses ${mine}`;
  return null;
}

/** `<root>/node/<sha16>-<os>-<arch>/bin/node`: uploaded runtimes are content-addressed like the agent. */
export function uploadedNodePath(root: string, sha16: string, p: ProbeResult): string {
  return `${root}/node/${sha16}-${p.os.toLowerCase()}-${p.arch}/bin/node`;
}
