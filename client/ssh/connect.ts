/**
 * Open an authenticated ssh2 connection to a resolved host, through its
 * ProxyJump chain (each hop's `forwardOut` channel is the next hop's `sock`)
 * or its ProxyCommand. Every hop has its host key verified. Failures become
 * ConnectionErrors tagged by layer: tunnel (DNS/TCP/forwarding), host-key,
 * auth, timeout.
 */
import { spawn } from 'node:child_process';
import { connect as netConnect, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import type { Client, ConnectConfig } from 'ssh2';
import { ConnectionError } from '../errors.js';
import { createAuthHandler, type AuthLog, type AuthOptions } from './auth.js';
import { loadSsh2, type Ssh2Module } from './ssh2-module.js';
import { createHostKeyCheck, type HostKeyCheck, type HostKeyOptions } from './host-key.js';
import { PhaseClock, type Phase } from './phases.js';
import { describeHost, resolveHost, type ResolvedHost } from './resolve.js';

export interface SshOptions extends AuthOptions, HostKeyOptions {
  /** ssh_config files in precedence order. Default ~/.ssh/config then /etc/ssh/ssh_config; [] for none. */
  configFiles?: string[];
  /** Milliseconds for TCP connect + SSH handshake + auth, per hop. Default: ConnectTimeout, else 20 s. */
  readyTimeoutMs?: number;
  /** Milliseconds between SSH keepalives. Default: ServerAliveInterval, else 15 s. 0 = off. */
  keepaliveIntervalMs?: number;
  /** Unanswered keepalives before the connection is declared dead. Default: ServerAliveCountMax, else 3. */
  keepaliveCountMax?: number;
  signal?: AbortSignal;
  /** ssh2 debug lines. */
  debug?: (line: string) => void;
}

export interface SshSession {
  client: Client;
  host: ResolvedHost;
  /** Milliseconds from the first TCP connect to authenticated, whole chain. */
  handshakeMs: number;
  /** handshakeMs by phase, per hop: 'tcp' (or 'jump channel', 'proxy command'), 'kex' (version exchange, key exchange, host key check), 'auth'; names of earlier hops are prefixed 'hop N '. */
  phases: Phase[];
  /** Pre-auth banner of the last hop, if any. */
  banner: string | null;
  /** Host key decisions, one per hop (jumps first). */
  hostKeys: HostKeyCheck[];
  /** Set when the session ended on its own (keepalive timeout, network error). */
  readonly lostError: ConnectionError | null;
  /** True once the connection has closed, for whatever reason. */
  readonly closed: boolean;
  /** Called once when the last hop closes, with why if it was not us. */
  onClose(fn: (err: ConnectionError | null) => void): void;
  close(): void;
}

const DEFAULT_READY_MS = 20_000;
const DEFAULT_KEEPALIVE_MS = 15_000;
const DEFAULT_KEEPALIVE_COUNT = 3;

/** TCP connect with no Nagle delay (every agent request is a small packet). */
export function tcpConnect(host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ host, port, noDelay: true });
    const t = setTimeout(() => {
      s.destroy();
      reject(new ConnectionError('timeout', `TCP connect to ${host}:${port} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(t);
      s.removeAllListeners('error');
      resolve(s);
    });
    s.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(t);
      const what = err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN' ? `cannot resolve host name ${host}` : `cannot reach ${host}:${port}`;
      reject(new ConnectionError('tunnel', `${what}: ${err.message}`, { cause: err, details: { code: err.code } }));
    });
  });
}

/** ProxyCommand: run it with /bin/sh locally and speak SSH over its stdio. */
function proxyCommandSock(command: string): Duplex {
  const child = spawn('/bin/sh', ['-c', command], { stdio: ['pipe', 'pipe', 'inherit'] });
  const d = Duplex.from({ readable: child.stdout, writable: child.stdin });
  d.once('close', () => child.kill());
  return d;
}

function forwardOut(via: Client, host: string, port: number): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    via.forwardOut('127.0.0.1', 0, host, port, (err, ch) => {
      if (err) reject(new ConnectionError('tunnel', `jump host could not open a connection to ${host}:${port}: ${err.message}`, { cause: err }));
      else resolve(ch);
    });
  });
}

/** Connect and authenticate one hop over `sock`. */
function handshake(
  h: ResolvedHost,
  sock: Duplex,
  opts: SshOptions,
  mark: (phase: string) => void,
  ssh2: Ssh2Module,
): Promise<{ client: Client; banner: string | null; hostKey: HostKeyCheck }> {
  const hostKey = createHostKeyCheck(h, opts);
  const authLog: AuthLog = { tried: [], serverMethods: [] };
  const client = new ssh2.Client();
  let banner: string | null = null;
  const config: ConnectConfig = {
    sock,
    username: h.user,
    hostVerifier: (key: Buffer) => hostKey.verify(key),
    authHandler: createAuthHandler(h, opts, authLog, ssh2),
    readyTimeout: opts.readyTimeoutMs ?? h.connectTimeoutMs ?? DEFAULT_READY_MS,
    keepaliveInterval: opts.keepaliveIntervalMs ?? h.serverAliveIntervalMs ?? DEFAULT_KEEPALIVE_MS,
    keepaliveCountMax: opts.keepaliveCountMax ?? h.serverAliveCountMax ?? DEFAULT_KEEPALIVE_COUNT,
    debug: opts.debug,
  };
  // Ask first for the key types we know for this host, so a known host is not "unknown" by accident of order.
  if (hostKey.preferredAlgorithms.length) {
    const dflt = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
    config.algorithms = { serverHostKey: [...hostKey.preferredAlgorithms, ...dflt.filter((a) => !hostKey.preferredAlgorithms.includes(a))] as never };
  }
  return new Promise((resolve, reject) => {
    const onAbort = () => fail(new ConnectionError('closed', 'connect aborted', { cause: opts.signal?.reason }));
    const fail = (e: ConnectionError) => {
      opts.signal?.removeEventListener('abort', onAbort);
      client.removeAllListeners('ready');
      client.on('error', () => {});
      client.end();
      sock.destroy();
      reject(e);
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    client.once('banner', (b: string) => (banner = b));
    client.once('handshake', () => {
      mark('kex');
      hostKey.commit();
    });
    client.once('ready', () => {
      mark('auth');
      opts.signal?.removeEventListener('abort', onAbort);
      client.removeAllListeners('error');
      resolve({ client, banner, hostKey });
    });
    let failed = false;
    client.on('error', (err: Error & { level?: string }) => {
      // ssh2 reports a broken ssh-agent (stale SSH_AUTH_SOCK…) and moves on to the next method: so do we.
      if (err.level === 'agent') return void authLog.tried.push(`ssh-agent failed: ${err.message}`);
      if (failed) return;
      failed = true;
      if (hostKey.failure) return fail(hostKey.failure);
      const where = describeHost(h);
      if (err.level === 'client-authentication') {
        return fail(
          new ConnectionError(
            'auth',
            `authentication to ${where} failed; tried: ${authLog.tried.join(', ') || 'nothing (no agent, no key files, no prompt handlers)'}; server accepts: ${authLog.serverMethods.join(', ') || 'unknown'}`,
            { cause: err, details: { tried: authLog.tried, serverMethods: authLog.serverMethods } },
          ),
        );
      }
      if (err.level === 'client-timeout') return fail(new ConnectionError('timeout', `SSH handshake with ${where} timed out: ${err.message}`, { cause: err }));
      fail(new ConnectionError('tunnel', `SSH connection to ${where} failed: ${err.message}`, { cause: err }));
    });
    client.connect(config);
  });
}

/** Resolve (if needed), connect every hop, authenticate. The caller must `close()` the session. */
export async function openSsh(target: string | ResolvedHost, opts: SshOptions = {}): Promise<SshSession> {
  const h = typeof target === 'string' ? resolveHost(target, opts.configFiles) : target;
  const ssh2 = await loadSsh2();
  const chain = [...h.jumps, h];
  const clients: Client[] = [];
  const t0 = performance.now();
  const clock = new PhaseClock();
  let banner: string | null = null;
  const hostKeys: HostKeyCheck[] = [];
  try {
    for (const [i, hop] of chain.entries()) {
      const readyMs = opts.readyTimeoutMs ?? hop.connectTimeoutMs ?? DEFAULT_READY_MS;
      const mark = (phase: string) => clock.mark(i < chain.length - 1 ? `hop ${i + 1} ${phase}` : phase);
      const sock =
        i > 0
          ? await forwardOut(clients[i - 1]!, hop.hostname, hop.port)
          : hop.proxyCommand
            ? proxyCommandSock(hop.proxyCommand)
            : await tcpConnect(hop.hostname, hop.port, readyMs);
      mark(i > 0 ? 'jump channel' : hop.proxyCommand ? 'proxy command' : 'tcp');
      const r = await handshake(hop, sock, opts, mark, ssh2);
      clients.push(r.client);
      hostKeys.push(r.hostKey);
      banner = r.banner;
    }
  } catch (err) {
    for (const c of clients.reverse()) c.end();
    throw err;
  }
  const client = clients[clients.length - 1]!;
  let lost: ConnectionError | null = null;
  let closed = false;
  const listeners: ((e: ConnectionError | null) => void)[] = [];
  client.on('error', (err: Error & { level?: string }) => {
    lost =
      err.level === 'client-timeout'
        ? new ConnectionError(
            'timeout',
            `SSH keepalive timeout: ${describeHost(h)} did not answer ${opts.keepaliveCountMax ?? h.serverAliveCountMax ?? DEFAULT_KEEPALIVE_COUNT} keepalives; the network or the server is gone`,
            { cause: err },
          )
        : new ConnectionError('closed', `SSH connection to ${describeHost(h)} failed: ${err.message}`, { cause: err });
  });
  client.once('close', () => {
    closed = true;
    for (const c of clients.slice(0, -1).reverse()) c.end();
    for (const fn of listeners.splice(0)) fn(lost);
  });
  return {
    client,
    host: h,
    handshakeMs: performance.now() - t0,
    phases: clock.phases,
    banner,
    hostKeys,
    get lostError() {
      return lost;
    },
    get closed() {
      return closed;
    },
    onClose(fn) {
      if (closed) fn(lost);
      else listeners.push(fn);
    },
    close() {
      client.end();
      for (const c of clients.slice(0, -1).reverse()) c.end();
      // The disconnect is written; the process need not stay for the server's FIN (a round trip at exit).
      (clients[0] as unknown as { _sock?: { unref?: () => void } })._sock?.unref?.();
    },
  };
}
