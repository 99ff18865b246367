/**
 * The agent's only listener: an HTTP server on a Unix socket (never TCP) that
 * upgrades to WebSocket. Tracks sessions for idle exit and shutdown.
 */
import { chmodSync, unlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import { HELLO_HEADER, HELLO_TAKEN } from '../protocol/index.js';
import { Session, type SessionDeps } from './session.js';

export interface AgentServerOptions extends SessionDeps {
  socketPath: string;
  /** Milliseconds with no sessions and no holds before `onIdle` fires. 0 disables. */
  idleExitMs: number;
  onIdle: () => void;
}

export class AgentServer {
  /** How long close() waits for cancelled handlers to clean up, ms. */
  static readonly CLOSE_GRACE_MS = 5000;
  readonly sessions = new Set<Session>();
  readonly #opts: AgentServerOptions;
  readonly #http: Server;
  readonly #wss: WebSocketServer;
  #idleTimer: NodeJS.Timeout | null = null;
  #holds = 0;
  #closed = false;

  constructor(opts: AgentServerOptions) {
    this.#opts = opts;
    this.#wss = new WebSocketServer({
      noServer: true,
      // Frames over maxFrameBytes are answered TOO_LARGE by the session; far
      // larger ones are cut off here before they fill memory.
      maxPayload: opts.limits.maxFrameBytes * 2,
      perMessageDeflate: false,
    });
    // Tell the client its hello header is handled (else it sends a hello frame too).
    this.#wss.on('headers', (headers, req) => {
      if (req.headers[HELLO_HEADER] !== undefined) headers.push(`${HELLO_HEADER}: ${HELLO_TAKEN}`);
    });
    this.#http = createServer((_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain' });
      res.end('clustrix agent: WebSocket upgrade required\n');
    });
    this.#http.on('upgrade', (req, socket, head) => {
      if (this.#closed) {
        socket.destroy();
        return;
      }
      this.#wss.handleUpgrade(req, socket, head, (ws) => this.#onConnection(ws, socket as Socket, req.headers[HELLO_HEADER]));
    });
    this.#http.on('clientError', (_err, socket) => socket.destroy());
  }

  listen(): Promise<void> {
    const { socketPath } = this.#opts;
    return new Promise((resolve, reject) => {
      this.#http.once('error', reject);
      // umask 077 while binding: the socket file is born 0600, no window where it is wider.
      const old = process.umask(0o077);
      this.#http.listen(socketPath, () => {
        process.umask(old);
        chmodSync(socketPath, 0o600);
        this.#http.off('error', reject);
        this.#armIdle();
        resolve();
      });
    });
  }

  /** Keep the agent alive while some work is watched (jobs). Returns the release function. */
  hold(): () => void {
    this.#holds++;
    this.#disarmIdle();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#holds--;
      this.#armIdle();
    };
  }

  get inFlight(): number {
    let n = 0;
    for (const s of this.sessions) n += s.inFlight;
    return n;
  }

  broadcast(topic: string, d: unknown): void {
    for (const s of this.sessions) s.event(topic, d);
  }

  /**
   * Stop: cancel what is running and give the handlers up to `graceMs` to
   * finish their clean-up (a storage probe removes its markers, an upload
   * its temp file), then close every connection.
   */
  async close(graceMs = AgentServer.CLOSE_GRACE_MS): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#disarmIdle();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all([...this.sessions].map((s) => s.cancelAll('the agent is stopping'))),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs))),
    ]);
    clearTimeout(timer);
    for (const s of this.sessions) s.close();
    // Connections that never sent their upgrade (a client's mux keeps one open ahead of need) would
    // hold close() until the HTTP server's header timeout (a minute). Node >= 18.2.
    this.#http.closeAllConnections?.();
    await new Promise<void>((resolve) => this.#http.close(() => resolve()));
    this.#wss.close();
    try {
      unlinkSync(this.#opts.socketPath);
    } catch {
      /* already gone */
    }
  }

  /** `hello`: the upgrade request's hello header, if it had one (answered at once; see protocol/hello-header.ts). */
  #onConnection(ws: import('ws').WebSocket, socket: Socket, hello: string | string[] | undefined): void {
    const session = new Session(ws, socket, this.#opts, hello);
    this.sessions.add(session);
    this.#disarmIdle();
    session.onClose(() => {
      this.sessions.delete(session);
      this.#armIdle();
    });
  }

  #armIdle(): void {
    const ms = this.#opts.idleExitMs;
    if (this.#closed || ms <= 0 || this.sessions.size > 0 || this.#holds > 0 || this.#idleTimer) return;
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = null;
      if (this.sessions.size === 0 && this.#holds === 0) this.#opts.onIdle();
    }, ms);
    this.#idleTimer.unref?.();
  }

  #disarmIdle(): void {
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#idleTimer = null;
  }
}
