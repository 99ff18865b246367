/**
 * ~/.ssh/config resolution. The `ssh-config` package parses the files; the
 * evaluation is ours, because its `compute()` has behaviours a library must
 * not have (it runs `Match exec` commands and `nslookup` for canonical
 * domains) and it matches `?` as "zero or one character".
 *
 * Semantics follow ssh_config(5): the first value obtained wins, IdentityFile
 * accumulates, `Host` patterns support `*`, `?` and `!negation`, `Match`
 * supports all/host/originalhost/user/localuser/final (never `exec`: those
 * blocks are skipped), `Include` is expanded in place (relative to ~/.ssh).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { basename, dirname, isAbsolute, join } from 'node:path';
import SSHConfig, { LineType } from 'ssh-config';

type Values = Map<string, string[]>;

/** Directives that accumulate instead of first-wins. */
const REPEATABLE = new Set(['identityfile', 'certificatefile', 'localforward', 'remoteforward', 'dynamicforward', 'sendenv']);

/** ssh_config pattern list: `*`, `?` (exactly one char), `!neg` vetoes the whole list. Case-insensitive. */
export function patternListMatches(patterns: readonly string[], name: string): boolean {
  let hit = false;
  for (const raw of patterns.flatMap((p) => p.split(','))) {
    if (raw === '') continue;
    const neg = raw.startsWith('!');
    const p = neg ? raw.slice(1) : raw;
    const re = new RegExp(
      '^' +
        p
          .replace(/[.+^${}()|[\]\\]/g, '\\$&')
          .replace(/\*/g, '.*')
          .replace(/\?/g, '.') +
        '$',
      'i',
    );
    if (re.test(name)) {
      if (neg) return false;
      hit = true;
    }
  }
  return hit;
}

function words(v: unknown): string[] {
  if (typeof v === 'string') return v.split(/\s+/).filter(Boolean);
  if (Array.isArray(v)) return (v as { val: string }[]).map((x) => x.val);
  return [];
}

/** Text of a config file with `Include` lines replaced by the files they name (depth-limited like OpenSSH). */
export function expandIncludes(text: string, sshDir: string, depth = 0): string {
  if (depth > 16) throw new Error('ssh config: Include nested more than 16 deep (a loop?)');
  const out: string[] = [];
  let section: string | null = null;
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*include\s*[\s=]\s*(.+?)\s*$/i.exec(line);
    if (!m) {
      if (/^\s*(host|match)[\s=]/i.test(line)) section = line.trim();
      out.push(line);
      continue;
    }
    for (const pattern of m[1]!.split(/\s+/)) {
      const p = pattern.replace(/^"|"$/g, '').replace(/^~(?=\/|$)/, homedir());
      for (const file of globFiles(isAbsolute(p) ? p : join(sshDir, p))) {
        let inc: string;
        try {
          inc = readFileSync(file, 'utf8');
        } catch {
          continue; // OpenSSH ignores Include targets that do not exist
        }
        out.push(expandIncludes(inc, sshDir, depth + 1));
      }
    }
    // Lines after an Include inside a Host/Match block still belong to that block.
    if (section) out.push(section);
  }
  return out.join('\n');
}

function globFiles(path: string): string[] {
  const name = basename(path);
  if (!/[*?]/.test(name)) return [path];
  let entries: string[];
  try {
    entries = readdirSync(dirname(path));
  } catch {
    return [];
  }
  return entries
    .filter((e) => patternListMatches([name], e) && !e.startsWith('.'))
    .sort()
    .map((e) => join(dirname(path), e));
}

interface EvalContext {
  host: string; // the alias as typed
  user: string | undefined; // from the target, if given
  localUser: string;
  final: boolean;
}

function matchBlock(criteria: string[], values: Values, ctx: EvalContext): boolean {
  const hostNow = values.get('hostname')?.[0] ?? ctx.host;
  const userNow = ctx.user ?? values.get('user')?.[0] ?? ctx.localUser;
  for (let i = 0; i < criteria.length; i++) {
    let key = criteria[i]!.toLowerCase();
    const neg = key.startsWith('!');
    if (neg) key = key.slice(1);
    let ok: boolean;
    if (key === 'all') ok = true;
    else if (key === 'final') ok = ctx.final;
    else if (key === 'canonical') ok = false;
    else {
      const arg = criteria[++i] ?? '';
      if (key === 'host') ok = patternListMatches([arg], hostNow);
      else if (key === 'originalhost') ok = patternListMatches([arg], ctx.host);
      else if (key === 'user') ok = patternListMatches([arg], userNow);
      else if (key === 'localuser') ok = patternListMatches([arg], ctx.localUser);
      else ok = false; // exec and anything unknown: never run, never match
    }
    if (neg ? ok : !ok) return false;
  }
  return true;
}

function collect(config: SSHConfig, values: Values, ctx: EvalContext): void {
  const set = (param: string, value: unknown) => {
    const k = param.toLowerCase();
    const w = k === 'proxycommand' || k === 'identityfile' || k === 'identityagent' ? [wordsJoined(value)] : words(value);
    if (REPEATABLE.has(k)) values.set(k, [...(values.get(k) ?? []), ...w]);
    else if (!values.has(k)) values.set(k, w);
  };
  for (const line of config) {
    if (line.type !== LineType.DIRECTIVE) continue;
    if ('config' in line) {
      const p = line.param.toLowerCase();
      const applies = p === 'host' ? patternListMatches(words(line.value), ctx.host) : matchBlock(words(line.value), values, ctx);
      if (!applies) continue;
      for (const sub of line.config) if (sub.type === LineType.DIRECTIVE) set(sub.param, sub.value);
    } else set(line.param, line.value);
  }
}

function wordsJoined(v: unknown): string {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return (v as { val: string; separator: string }[]).map((x, i) => (i ? x.separator : '') + x.val).join('');
  return '';
}

/**
 * Every directive that applies to `host`, lower-cased, first-wins (lists for
 * repeatable ones). `texts` are config file contents in precedence order
 * (user config first, then the system one), Includes already expanded.
 */
export function evaluateConfig(texts: readonly string[], host: string, user?: string): Values {
  const values: Values = new Map();
  const parsed = texts.map((t) => SSHConfig.parse(t));
  const localUser = safeLocalUser();
  const needsFinal = texts.some((t) => /^\s*match\b.*\bfinal\b/im.test(t));
  for (const final of needsFinal ? [false, true] : [false]) {
    for (const c of parsed) collect(c, values, { host, user, localUser, final });
  }
  return values;
}

export function safeLocalUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? process.env.LOGNAME ?? 'unknown';
  }
}

/** Read, Include-expand and return config texts; files that do not exist are skipped. */
export function readConfigFiles(files: readonly string[]): string[] {
  const out: string[] = [];
  for (const f of files) {
    try {
      out.push(expandIncludes(readFileSync(f, 'utf8'), f.startsWith('/etc/') ? '/etc/ssh' : join(homedir(), '.ssh')));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return out;
}
