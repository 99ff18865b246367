/**
 * The identity and scripts of an environment. Pure except `specHash`, which
 * reads the local files the spec names so that their content is part of the
 * hash.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import type { EnvSpec } from '../../protocol/index.js';

/** JSON with object keys sorted at every level and undefined dropped: equal specs, equal bytes. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map((x) => canonicalJson(x === undefined ? null : x)).join(',')}]`;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
}

/** Quote one value for POSIX sh: `'…'`, with `'` written as `'\''`. The only way values enter a script. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Resolve the spec's paths against home, so the hash does not depend on how they were written. */
export function normalizeSpec(spec: EnvSpec, home: string): EnvSpec {
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(home, p));
  const out: EnvSpec = { ...spec };
  if (spec.node) {
    out.node = { ...spec.node };
    if (spec.node.tarballs) out.node.tarballs = spec.node.tarballs.map(abs);
    if (spec.node.lockfileDir) out.node.lockfileDir = abs(spec.node.lockfileDir);
  }
  if (spec.python) {
    out.python = { ...spec.python, interpreter: spec.python.interpreter ?? 'python3' };
    if (spec.python.wheelDir) out.python.wheelDir = abs(spec.python.wheelDir);
  }
  return out;
}

function fileSha256(path: string): Promise<string> {
  return new Promise((res, rej) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (d) => h.update(d))
      .on('error', rej)
      .on('end', () => res(h.digest('hex')));
  });
}

/** The local files whose content is part of the identity. */
async function localFiles(spec: EnvSpec): Promise<string[]> {
  const files = [...(spec.node?.tarballs ?? [])];
  if (spec.node?.lockfileDir) files.push(join(spec.node.lockfileDir, 'package.json'), join(spec.node.lockfileDir, 'package-lock.json'));
  if (spec.python?.wheelDir) {
    const names = (await readdir(spec.python.wheelDir)).filter((n) => /\.(whl|tar\.gz|zip)$/.test(n)).sort();
    files.push(...names.map((n) => join(spec.python!.wheelDir!, n)));
  }
  return files;
}

/** sha256 over the canonical (normalized) spec and the sha256 of every local file it names. */
export async function specHash(spec: EnvSpec): Promise<string> {
  const digests: Record<string, string> = {};
  for (const f of await localFiles(spec)) digests[f] = await fileSha256(f);
  return createHash('sha256')
    .update(canonicalJson({ v: 1, spec, digests }))
    .digest('hex');
}

/**
 * Modules and variables: sourced before every build command, and the first
 * half of `activate`. `module` is a shell function that non-login shells may
 * lack, so the usual init scripts are tried first.
 */
export function preludeScript(spec: EnvSpec): string {
  const lines: string[] = [];
  if (spec.modules?.length) {
    lines.push(
      'if ! command -v module >/dev/null 2>&1; then',
      '  for f in /etc/profile.d/lmod.sh /usr/share/lmod/lmod/init/sh /etc/profile.d/modules.sh /usr/share/Modules/init/sh; do',
      '    if [ -r "$f" ]; then . "$f"; break; fi',
      '  done',
      'fi',
    );
    for (const m of spec.modules) lines.push(`module load ${shQuote(m)} || return 1 2>/dev/null || exit 1`);
  }
  for (const [k, v] of Object.entries(spec.env ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) lines.push(`${k}=${shQuote(v)}; export ${k}`);
  return lines.join('\n') + (lines.length ? '\n' : '');
}

/** `activate` for an env that will live at `path` (its final place, not the build dir). */
export function activateScript(spec: EnvSpec, path: string, hash: string): string {
  const lines = [`# clustrix environment ${hash}: source with  . ${shQuote(join(path, 'activate'))}`, preludeScript(spec).trimEnd()];
  lines.push(`CLUSTRIX_ENV=${shQuote(path)}; export CLUSTRIX_ENV`);
  if (spec.node) {
    lines.push(`PATH=${shQuote(join(path, 'node', 'node_modules', '.bin'))}:"$PATH"; export PATH`);
    lines.push(`NODE_PATH=${shQuote(join(path, 'node', 'node_modules'))}\${NODE_PATH:+:\$NODE_PATH}; export NODE_PATH`);
  }
  if (spec.python) {
    lines.push(`CLUSTRIX_PYTHON=${shQuote(spec.python.interpreter ?? 'python3')}; export CLUSTRIX_PYTHON`);
    if (spec.python.requirements?.length) {
      lines.push(`PATH=${shQuote(join(path, 'python', 'bin'))}:"$PATH"; export PATH`);
      lines.push(`PYTHONPATH=${shQuote(join(path, 'python'))}\${PYTHONPATH:+:\$PYTHONPATH}; export PYTHONPATH`);
    }
  }
  return lines.filter((l) => l !== '').join('\n') + '\n';
}

/** The build commands, as argv arrays, for an env built in `dir`. */
export function buildSteps(spec: EnvSpec, dir: string): Array<{ what: string; argv: string[]; cwd: string }> {
  const steps: Array<{ what: string; argv: string[]; cwd: string }> = [];
  const n = spec.node;
  if (n) {
    const nodeDir = join(dir, 'node');
    const net = n.offline ? '--offline' : '--prefer-offline';
    if (n.lockfileDir) steps.push({ what: 'npm ci', argv: ['npm', 'ci', net, '--no-audit', '--no-fund'], cwd: nodeDir });
    const pkgs = [...Object.entries(n.packages ?? {}).map(([k, v]) => `${k}@${v}`), ...(n.tarballs ?? [])];
    if (pkgs.length) steps.push({ what: 'npm install', argv: ['npm', 'install', net, '--no-audit', '--no-fund', '--prefix', nodeDir, ...pkgs], cwd: nodeDir });
  }
  const p = spec.python;
  if (p?.requirements?.length) {
    const index = p.wheelDir ? ['--no-index', '--find-links', p.wheelDir] : [];
    steps.push({
      what: 'pip install',
      argv: [
        p.interpreter ?? 'python3',
        '-m',
        'pip',
        'install',
        '--disable-pip-version-check',
        '--no-warn-script-location',
        ...index,
        '--target',
        join(dir, 'python'),
        ...p.requirements,
      ],
      cwd: dir,
    });
  }
  return steps;
}
