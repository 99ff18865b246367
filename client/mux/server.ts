/**
 * The SSH multiplexer: one process per target that keeps an authenticated
 * SSH connection for a while after a CLI command (like OpenSSH's
 * ControlPersist), so the next command skips TCP, key exchange, auth and the
 * remote exec: it opens a channel to the agent through this process and
 * speaks to the agent end to end (the mux never sees inside the WebSocket).
 * It listens on a 0600 socket in a 0700 dir of ours (paths.ts), never on TCP,
 * and exits when idle for `idleMs`, when SSH drops, or when asked to stop.
 */
import { chmodSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { answerUpgrade, type ReadySession } from './ready-session.js';
import { parseRequest, readLine, type MuxAgent, type MuxReply } from './wire.js';

/** A channel to the agent and what a client needs to say hello on it. */
export interface MuxTunnel {
  stream: Duplex;
  agent: MuxAgent;
  /** Set when `stream` is a session upgraded ahead (ready-session.ts): the mux answers the client's upgrade itself. */
  ready?: ReadySession;
}

/** Whatever reaches the agent: an SSH session in the real mux (ssh-upstream.ts), a local agent in tests. */
export interface MuxUpstream {
  /**
   * A fresh byte stream to the agent; `refresh`: ask again which agent runs (the client's token was refused);
   * `plain`: not a session upgraded ahead (the client's own upgrade request goes through).
   */
  open(refresh: boolean, plain?: boolean): Promise<MuxTunnel>;
  /** Called once if the upstream dies for good (SSH lost). */
  onLost(fn: (why: string) => void): void;
  close(): void;
}

export interface MuxServerOptions {
  socketPath: string;
  /** Exit after this long with no client connected. */
  idleMs: number;
  /** Lines for the mux's log (it has no terminal). */
  log?: (line: string) => void;
}

/** How long a client may take to send its request line. */
const REQUEST_MS = 5_000;

export class MuxServer {
  readonly #up: MuxUpstream;
  readonly #opts: MuxServerOptions;
  readonly #server: Server;
  readonly #live = new Set<Socket>();
  #idle: NodeJS.Timeout | null = null;
  #stopped: ((why: string) => void) | null = null;
  #closing = false;
  /** Resolves with the reason once the mux has shut down. */
  readonly done: Promise<string>;
  /** Channels opened so far (for status and tests). */
  opened = 0;

  constructor(up: MuxUpstream, opts: MuxServerOptions) {
    this.#up = up;
    this.#opts = opts;
    this.#server = createServer((s) => void this.#serve(s));
    this.done = new Promise((r) => (this.#stopped = r));
    up.onLost((why) => this.close(`SSH connection lost: ${why}`));
  }

  /** Listen; throws EADDRINUSE when a live mux already has the socket (a stale socket file is replaced). */
  async listen(): Promise<void> {
    try {
      await this.#bind();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || (await answers(this.#opts.socketPath))) throw err;
      unlinkSync(this.#opts.socketPath);
      await this.#bind();
    }
    chmodSync(this.#opts.socketPath, 0o600);
    this.#armIdle();
  }

  #bind(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#opts.socketPath, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
  }

  close(why: string): void {
    if (this.#closing) return;
    this.#closing = true;
    if (this.#idle) clearTimeout(this.#idle);
    this.#opts.log?.(`mux stopping: ${why}`);
    this.#server.close();
    for (const s of this.#live) s.destroy();
    this.#up.close();
    this.#stopped?.(why);
  }

  #armIdle(): void {
    if (this.#idle) clearTimeout(this.#idle);
    this.#idle = null;
    if (this.#live.size === 0 && !this.#closing) this.#idle = setTimeout(() => this.close(`idle for ${this.#opts.idleMs} ms`), this.#opts.idleMs);
  }

  async #serve(s: Socket): Promise<void> {
    this.#live.add(s);
    this.#armIdle();
    s.on('error', () => {});
    s.once('close', () => {
      this.#live.delete(s);
      this.#armIdle();
    });
    const reply = (r: MuxReply) => s.write(JSON.stringify(r) + '\n');
    const line = await readLine(s, REQUEST_MS);
    const req = line === null ? null : parseRequest(line);
    if (!req) {
      s.end(JSON.stringify({ ok: false, error: 'bad mux request (expected one JSON line {"v":1,…})' }) + '\n');
      return;
    }
    if (req.stop) {
      s.end(JSON.stringify({ ok: true, stopping: true }) + '\n');
      this.close('stop requested');
      return;
    }
    let t: MuxTunnel;
    try {
      t = await this.#up.open(req.refresh === true);
    } catch (err) {
      this.#opts.log?.(`channel to the agent failed: ${(err as Error).message}`);
      s.end(JSON.stringify({ ok: false, error: `the mux could not reach the agent: ${(err as Error).message}` }) + '\n');
      return;
    }
    if (s.destroyed || this.#closing) {
      t.stream.destroy();
      return;
    }
    this.opened++;
    reply({ ok: true, agent: t.agent });
    let stream = t.stream;
    if (t.ready) {
      stream.on('error', () => {});
      const r = await answerUpgrade(s, t.ready, REQUEST_MS);
      if (r.taken) {
        // The agent's welcome, read while the session waited, goes first.
        const early = t.ready.take();
        if (early.length) s.write(early);
      } else {
        // Not an upgrade this session can answer: the client's request goes to the agent as it is, on a plain channel.
        t.stream.destroy();
        if (r.head === null || s.destroyed || this.#closing) return void s.destroy();
        try {
          stream = (await this.#up.open(false, true)).stream;
        } catch (err) {
          this.#opts.log?.(`channel to the agent failed: ${(err as Error).message}`);
          return void s.destroy();
        }
        stream.write(r.head);
      }
    }
    const end = () => {
      s.destroy();
      stream.destroy();
    };
    stream.on('error', end);
    stream.once('close', end);
    s.once('close', end);
    if (s.destroyed || stream.destroyed) return end();
    s.pipe(stream);
    stream.pipe(s);
  }
}

/** True when something accepts connections on `path`. */
export function answers(path: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection(path);
    const done = (v: boolean) => {
      clearTimeout(t);
      c.destroy();
      resolve(v);
    };
    const t = setTimeout(() => done(false), timeoutMs);
    c.once('connect', () => done(true));
    c.once('error', () => done(false));
  });
}
