/**
 * User authentication, in OpenSSH's order: ssh-agent keys, then identity
 * files (asking for the passphrase of encrypted ones), then
 * keyboard-interactive (2FA prompts), then password. Prompts are callbacks:
 * the library never reads a terminal itself; the CLI supplies TTY prompts.
 * With IdentitiesOnly only keys named by IdentityFile are offered, also from
 * the agent, so a full agent cannot exhaust the server's MaxAuthTries.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { AnyAuthMethod, AuthHandlerMiddleware, IdentityCallback, OpenSSHAgent, ParsedKey } from 'ssh2';
import type { ResolvedHost } from './resolve.js';
import type { Ssh2Module } from './ssh2-module.js';

export interface KeyboardInteractiveRequest {
  host: string;
  name: string;
  instructions: string;
  prompts: { prompt: string; echo: boolean }[];
}

export interface AuthCallbacks {
  /** Passphrase for an encrypted private key; return null/undefined to skip that key. Called up to 3 times per key. */
  passphrase?: (keyFile: string, attempt: number) => Promise<string | null | undefined>;
  /** Answers to keyboard-interactive prompts (one per prompt, e.g. a password then an OTP). */
  keyboardInteractive?: (req: KeyboardInteractiveRequest) => Promise<string[]>;
  /** Password for `user@host`; return null to skip password authentication. */
  password?: (who: string) => Promise<string | null | undefined>;
}

export interface AuthOptions extends AuthCallbacks {
  /** Extra private key files, tried before the ssh_config ones. */
  identityFiles?: string[];
  /** ssh-agent socket, or false for none. Default: IdentityAgent / $SSH_AUTH_SOCK. */
  agent?: string | false;
}

type ListedAgent = OpenSSHAgent & { offered: Buffer[] };
let listedAgentClass: (new (socket: string, allow: Buffer[] | null) => ListedAgent) | undefined;

/** An agent that only offers the keys `allow` names (IdentitiesOnly). Remembers what it offered. */
function listedAgent(ssh2: Ssh2Module, socket: string, allow: Buffer[] | null): ListedAgent {
  listedAgentClass ??= class extends ssh2.OpenSSHAgent {
    offered: Buffer[] = [];
    readonly #allow: Buffer[] | null;
    constructor(socket: string, allow: Buffer[] | null) {
      super(socket);
      this.#allow = allow;
    }
    override getIdentities(cb: IdentityCallback<ParsedKey>): void {
      super.getIdentities((err, keys) => {
        // An unreachable agent is not fatal: offer nothing and let the other methods run.
        if (err || !keys) return cb(null, []);
        const all = keys as ParsedKey[]; // OpenSSHAgent always yields parsed keys
        const chosen = this.#allow ? all.filter((k) => this.#allow!.some((a) => a.equals(k.getPublicSSH()))) : all;
        this.offered = chosen.map((k) => k.getPublicSSH());
        cb(null, chosen);
      });
    }
  };
  return new listedAgentClass(socket, allow);
}

function publicBlobOf(utils: Ssh2Module['utils'], file: string): Buffer | null {
  try {
    const k = utils.parseKey(readFileSync(`${file}.pub`));
    return k instanceof Error ? null : (Array.isArray(k) ? k[0] : k).getPublicSSH();
  } catch {
    return null;
  }
}

/** What was tried, for the error message when everything fails. */
export interface AuthLog {
  tried: string[];
  serverMethods: string[];
}

export function createAuthHandler(h: ResolvedHost, opts: AuthOptions, log: AuthLog, ssh2: Ssh2Module): AuthHandlerMiddleware {
  const { utils } = ssh2;
  const who = `${h.user}@${h.hostname}`;
  const files = [...(opts.identityFiles ?? []), ...h.identityFiles].filter((f, i, a) => a.indexOf(f) === i && existsSync(f));
  const agentSock = opts.agent === false ? null : (opts.agent ?? h.identityAgent);
  const allow = h.identitiesOnly ? files.map((f) => publicBlobOf(utils, f)).filter((b): b is Buffer => b !== null) : null;
  const agent = agentSock && existsSync(agentSock) ? listedAgent(ssh2, agentSock, allow) : null;
  const prompts = !h.batchMode;

  async function* candidates(): AsyncGenerator<AnyAuthMethod> {
    if (agent) {
      log.tried.push(`ssh-agent (${agentSock})`);
      yield { type: 'agent', username: h.user, agent };
    }
    for (const file of files) {
      const pub = publicBlobOf(utils, file);
      if (pub && agent?.offered.some((o) => o.equals(pub))) continue; // the agent already offered it
      const key = await loadKey(file);
      if (!key) continue;
      log.tried.push(`key ${file}`);
      yield { type: 'publickey', username: h.user, key };
    }
    if (h.kbdInteractiveAuthentication && prompts && opts.keyboardInteractive) {
      log.tried.push('keyboard-interactive');
      const ask = opts.keyboardInteractive;
      yield {
        type: 'keyboard-interactive',
        username: h.user,
        prompt: (name, instructions, _lang, ps, finish) => {
          if (ps.length === 0) return finish([]);
          ask({ host: who, name, instructions, prompts: ps.map((p) => ({ prompt: p.prompt, echo: Boolean(p.echo) })) }).then(finish, () => finish([]));
        },
      };
    }
    if (h.passwordAuthentication && prompts && opts.password) {
      const pw = await opts.password(who);
      if (pw) {
        log.tried.push('password');
        yield { type: 'password', username: h.user, password: pw };
      }
    }
  }

  async function loadKey(file: string): Promise<ParsedKey | null> {
    const data = readFileSync(file);
    const k = utils.parseKey(data);
    if (!(k instanceof Error)) return Array.isArray(k) ? (k[0] as ParsedKey) : k;
    if (!/encrypted|passphrase/i.test(k.message)) {
      log.tried.push(`key ${file} (unreadable: ${k.message})`);
      return null;
    }
    if (!prompts || !opts.passphrase) {
      log.tried.push(`key ${file} (encrypted; no passphrase callback${h.batchMode ? ', BatchMode' : ''})`);
      return null;
    }
    for (let attempt = 1; attempt <= 3; attempt++) {
      const pass = await opts.passphrase(file, attempt);
      if (!pass) return null;
      const d = utils.parseKey(data, pass);
      if (!(d instanceof Error)) return Array.isArray(d) ? (d[0] as ParsedKey) : d;
    }
    log.tried.push(`key ${file} (wrong passphrase 3 times)`);
    return null;
  }

  const it = candidates();
  return (methodsLeft, _partial, next) => {
    if (methodsLeft) log.serverMethods = methodsLeft;
    const pull = async (): Promise<AnyAuthMethod | false> => {
      for (;;) {
        const r = await it.next();
        if (r.done) return false;
        const m = r.value;
        const wire = m.type === 'agent' ? 'publickey' : m.type;
        if (!methodsLeft || methodsLeft.includes(wire)) return m;
      }
    };
    pull().then(
      (m) => next(m as AnyAuthMethod),
      () => next(false as never),
    );
  };
}
