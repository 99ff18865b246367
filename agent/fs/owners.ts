/**
 * uid/gid → user/group names, cached for the agent's lifetime.
 *
 * /etc/passwd and /etc/group are read once (cheap, local). Clusters keep most
 * accounts in LDAP/SSSD, so a miss asks `getent passwd <uid>` (argv, never a
 * shell) once per id; the answer, a name or "unknown", is cached so a listing
 * of 100k files owned by one LDAP user costs one lookup, not 100k.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';

type Kind = 'passwd' | 'group';

/** A cached name, null when known not to resolve, undefined when not looked up yet. */
type Cached = string | null | undefined;

const GETENT_TIMEOUT_MS = 5000;

export class Owners {
  readonly #names: Record<Kind, Map<number, string | null>> = { passwd: new Map(), group: new Map() };
  readonly #pending: Record<Kind, Map<number, Promise<string | undefined>>> = { passwd: new Map(), group: new Map() };
  #loaded: Promise<void> | null = null;
  readonly #files: Record<Kind, string>;
  readonly #getent: boolean;

  constructor(opts: { passwdFile?: string; groupFile?: string; getent?: boolean } = {}) {
    this.#files = { passwd: opts.passwdFile ?? '/etc/passwd', group: opts.groupFile ?? '/etc/group' };
    this.#getent = opts.getent ?? true;
  }

  /** The user name of `uid` if already known (no I/O): string, null (unresolvable) or undefined (ask `user()`). */
  userCached(uid: number): Cached {
    return this.#names.passwd.get(uid);
  }

  groupCached(gid: number): Cached {
    return this.#names.group.get(gid);
  }

  user(uid: number): Promise<string | undefined> {
    return this.#lookup('passwd', uid);
  }

  group(gid: number): Promise<string | undefined> {
    return this.#lookup('group', gid);
  }

  /** Fill `owner`/`group` on an object with uid/gid; resolves synchronously (undefined) when everything is cached. */
  fill(info: { uid?: number; gid?: number; owner?: string; group?: string }): Promise<void> | undefined {
    const { uid, gid } = info;
    let wait: Promise<unknown>[] | undefined;
    if (uid !== undefined) {
      const u = this.#names.passwd.get(uid);
      if (typeof u === 'string') info.owner = u;
      else if (u === undefined) (wait ??= []).push(this.user(uid).then((n) => n !== undefined && (info.owner = n)));
    }
    if (gid !== undefined) {
      const g = this.#names.group.get(gid);
      if (typeof g === 'string') info.group = g;
      else if (g === undefined) (wait ??= []).push(this.group(gid).then((n) => n !== undefined && (info.group = n)));
    }
    return wait && Promise.all(wait).then(() => undefined);
  }

  async #lookup(kind: Kind, id: number): Promise<string | undefined> {
    const hit = this.#names[kind].get(id);
    if (hit !== undefined) return hit ?? undefined;
    let p = this.#pending[kind].get(id);
    if (!p) {
      p = this.#resolve(kind, id).finally(() => this.#pending[kind].delete(id));
      this.#pending[kind].set(id, p);
    }
    return p;
  }

  async #resolve(kind: Kind, id: number): Promise<string | undefined> {
    await (this.#loaded ??= this.#loadFiles());
    const hit = this.#names[kind].get(id);
    if (hit !== undefined) return hit ?? undefined;
    const name = this.#getent ? await getent(kind, id) : undefined;
    this.#names[kind].set(id, name ?? null);
    return name;
  }

  async #loadFiles(): Promise<void> {
    for (const kind of ['passwd', 'group'] as const) {
      const text = await readFile(this.#files[kind], 'utf8').catch(() => '');
      for (const [name, id] of parseIdFile(text)) if (!this.#names[kind].has(id)) this.#names[kind].set(id, name);
    }
  }
}

/** `name:x:id:…` lines (passwd and group share the first three fields). First entry per id wins, like getpwuid. */
export function parseIdFile(text: string): Map<string, number> {
  const out = new Map<string, number>();
  const seen = new Set<number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#') || line.startsWith('+') || line.startsWith('-')) continue;
    const f = line.split(':');
    const name = f[0];
    const id = Number(f[2]);
    if (!name || f.length < 3 || !/^\d+$/.test(f[2] ?? '') || seen.has(id)) continue;
    seen.add(id);
    out.set(name, id);
  }
  return out;
}

function getent(kind: Kind, id: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile('getent', [kind, String(id)], { timeout: GETENT_TIMEOUT_MS, encoding: 'utf8' }, (err, stdout) => {
      if (err) return resolve(undefined);
      const name = stdout.split('\n')[0]?.split(':')[0];
      resolve(name || undefined);
    });
  });
}
