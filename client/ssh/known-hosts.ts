/**
 * OpenSSH known_hosts: parsing, lookup and the accept-new append.
 *
 * Lines are `[marker] patterns keytype base64key [comment]`. Patterns are
 * comma-separated host names (wildcards `*` `?`, negation `!`) or one hashed
 * name `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`. A non-standard port is
 * written `[host]:port`. Markers: `@revoked` (never accept this key) and
 * `@cert-authority` (a CA for host certificates — ssh2 cannot verify host
 * certificates, so such lines are parsed and reported but never treated as
 * the host's own key, neither as a match nor as a conflict).
 *
 * Pure functions except `loadKnownHosts`/`appendKnownHost`.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';

export type Marker = 'revoked' | 'cert-authority' | null;

export interface KnownHostEntry {
  marker: Marker;
  /** Raw comma-separated patterns, or the hashed `|1|…|…` token. */
  hosts: string;
  keyType: string;
  key: Buffer;
  file: string;
  line: number;
}

export type HostKeyVerdict =
  | { status: 'known'; entry: KnownHostEntry }
  | { status: 'revoked'; entry: KnownHostEntry }
  /** A key of the same type is recorded for this host and it is a different key. */
  | { status: 'changed'; expected: KnownHostEntry[] }
  /** Only keys of other types are recorded for this host (the server no longer offers them). */
  | { status: 'other-type'; expected: KnownHostEntry[] }
  /** Nothing recorded. `certAuthorities` > 0 when only @cert-authority lines match. */
  | { status: 'unknown'; certAuthorities: number };

/** The name OpenSSH looks up: `host` on port 22, `[host]:port` otherwise; HostKeyAlias replaces both. */
export function hostKeyName(host: string, port: number, alias?: string): string {
  if (alias) return alias.toLowerCase();
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

export function parseKnownHosts(text: string, file = '<memory>'): KnownHostEntry[] {
  const out: KnownHostEntry[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (raw === '' || raw.startsWith('#')) continue;
    const f = raw.split(/\s+/);
    let marker: Marker = null;
    if (f[0]!.startsWith('@')) {
      const m = f.shift()!;
      if (m === '@revoked') marker = 'revoked';
      else if (m === '@cert-authority') marker = 'cert-authority';
      else continue; // unknown marker: OpenSSH ignores the line, so do we
    }
    const [hosts, keyType, b64] = f;
    if (!hosts || !keyType || !b64 || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) continue;
    const key = Buffer.from(b64, 'base64');
    // The blob starts with its own type; a line whose field disagrees is corrupt.
    if (keyTypeOf(key) !== keyType) continue;
    out.push({ marker, hosts, keyType, key, file, line: i + 1 });
  }
  return out;
}

/** The key type string at the start of an SSH public key blob, or '' if unreadable. */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) return '';
  const n = blob.readUInt32BE(0);
  if (n > 64 || 4 + n > blob.length) return '';
  return blob.subarray(4, 4 + n).toString('latin1');
}

/** `SHA256:…` like `ssh-keygen -l` prints it. */
export function fingerprint(blob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

function globMatch(pattern: string, name: string): boolean {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 'i').test(name);
}

function hashedMatch(token: string, name: string): boolean {
  const parts = token.split('|'); // ['', '1', salt, hash]
  if (parts.length !== 4 || parts[1] !== '1') return false;
  const salt = Buffer.from(parts[2]!, 'base64');
  const want = Buffer.from(parts[3]!, 'base64');
  const got = createHmac('sha1', salt).update(name).digest();
  return want.length === got.length && timingSafeEqual(want, got);
}

/** Does the entry's host field cover `name`? Negated patterns veto the whole line. */
export function entryMatches(e: KnownHostEntry, name: string): boolean {
  if (e.hosts.startsWith('|')) return hashedMatch(e.hosts, name);
  let hit = false;
  for (const p of e.hosts.split(',')) {
    if (p.startsWith('!')) {
      if (globMatch(p.slice(1), name)) return false;
    } else if (globMatch(p, name)) hit = true;
  }
  return hit;
}

export function checkHostKey(entries: readonly KnownHostEntry[], name: string, key: Buffer): HostKeyVerdict {
  // A revoked key is refused for every host, whatever its patterns say.
  const revoked = entries.find((e) => e.marker === 'revoked' && e.key.equals(key));
  if (revoked) return { status: 'revoked', entry: revoked };
  const forHost = entries.filter((e) => e.marker === null && entryMatches(e, name));
  const exact = forHost.find((e) => e.key.equals(key));
  if (exact) return { status: 'known', entry: exact };
  const type = keyTypeOf(key);
  const sameType = forHost.filter((e) => e.keyType === type);
  if (sameType.length > 0) return { status: 'changed', expected: sameType };
  if (forHost.length > 0) return { status: 'other-type', expected: forHost };
  const cas = entries.filter((e) => e.marker === 'cert-authority' && entryMatches(e, name)).length;
  return { status: 'unknown', certAuthorities: cas };
}

/** Host key algorithms to offer first, so the server shows us a key type we already know (as OpenSSH does). */
export function knownKeyAlgorithms(entries: readonly KnownHostEntry[], name: string): string[] {
  const out: string[] = [];
  for (const e of entries) {
    if (e.marker !== null || !entryMatches(e, name)) continue;
    const algs = e.keyType === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [e.keyType];
    for (const a of algs) if (!out.includes(a)) out.push(a);
  }
  return out;
}

/** One known_hosts line for `name`, hashed like `ssh-keygen -H` when asked. */
export function knownHostLine(name: string, key: Buffer, hash = false): string {
  let host = name;
  if (hash) {
    const salt = randomBytes(20);
    host = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
  }
  return `${host} ${keyTypeOf(key)} ${key.toString('base64')}`;
}

/** Read every file that exists; missing files are normal (a fresh account has none). */
export function loadKnownHosts(files: readonly string[]): KnownHostEntry[] {
  const out: KnownHostEntry[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    out.push(...parseKnownHosts(text, f));
  }
  return out;
}

/** Append a line (accept-new). Creates the file 0600 and its directory 0700 if needed. */
export function appendKnownHost(file: string, line: string): void {
  const dir = dirname(file);
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  let prefix = '';
  try {
    const cur = readFileSync(file, 'utf8');
    if (cur.length > 0 && !cur.endsWith('\n')) prefix = '\n';
  } catch {
    /* new file */
  }
  // The mode applies only when the file is created; an existing file keeps the user's choice.
  appendFileSync(file, `${prefix}${line}\n`, { mode: 0o600 });
}
