/** A connected cluster (or the local embedded default). */
import { agentInfo, agentPing, agentShutdown, type AgentInfo } from '../protocol/index.js';
import type { CallOptions, Connection } from './connection.js';
import { FsApi } from './fs.js';

export class Cluster {
  /** What the caller connected to: "local", an ssh alias, user@host:port. */
  readonly target: string;
  readonly fs: FsApi;
  /** The protocol connection, for advanced use (raw calls, events). */
  readonly connection: Connection;
  readonly #onClose: (() => Promise<void> | void) | undefined;

  constructor(target: string, conn: Connection, onClose?: () => Promise<void> | void) {
    this.target = target;
    this.connection = conn;
    this.fs = new FsApi(conn);
    this.#onClose = onClose;
  }

  info(o?: CallOptions): Promise<AgentInfo> {
    return this.connection.call(agentInfo, {}, o);
  }

  /** Round trip to the agent; resolves with the agent's clock. */
  ping(o?: CallOptions): Promise<{ now: number }> {
    return this.connection.call(agentPing, {}, o);
  }

  /** Ask the agent to exit (other clients are disconnected). */
  async stopAgent(o?: CallOptions): Promise<void> {
    await this.connection.call(agentShutdown, {}, o).catch((err: { kind?: string }) => {
      if (err?.kind !== 'closed') throw err;
    });
  }

  /** Close the connection; pending calls reject with ConnectionError('closed'). Idempotent. */
  async close(): Promise<void> {
    await this.connection.close();
    await this.#onClose?.();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
