/** A connected cluster (or the local embedded default). */
import { agentInfo, agentPing, agentShutdown, type AgentInfo, type StorageReport, type StorageVerifyResult } from '../protocol/index.js';
import type { CallOptions, Connection } from './connection.js';
import { EnvsApi } from './envs.js';
import { FsApi } from './fs.js';
import { FunctionsApi, type FunctionCall, type FunctionOptions, type MapCall, type MapOptions } from './functions/index.js';
import { JobsApi } from './jobs.js';
import { detectStorage, type StorageOptions } from './storage.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyFn = (...args: any[]) => any;

export class Cluster {
  /** What the caller connected to: "local", an ssh alias, user@host:port. */
  readonly target: string;
  readonly fs: FsApi;
  readonly jobs: JobsApi;
  /** Dependency environments built once per spec on the cluster. */
  readonly envs: EnvsApi;
  /** Functions run as jobs; `run`, `remote` and `map` below are shortcuts to it. */
  readonly functions: FunctionsApi;
  /** The protocol connection, for advanced use (raw calls, events). */
  readonly connection: Connection;
  readonly #onClose: (() => Promise<void> | void) | undefined;

  constructor(target: string, conn: Connection, onClose?: () => Promise<void> | void) {
    this.target = target;
    this.connection = conn;
    this.fs = new FsApi(conn);
    this.jobs = new JobsApi(conn);
    this.envs = new EnvsApi(conn);
    this.functions = new FunctionsApi(conn, this.fs, this.envs);
    this.#onClose = onClose;
  }

  /**
   * Run `exportName(...args)` of a module (a file: URL or a path) as a job on
   * the cluster. `await` the handle for the result (or the remote exception);
   * `for await` it for progress events. See docs/FUNCTIONS.md.
   */
  run<F extends AnyFn = AnyFn>(module: string | URL, exportName: string, args: Parameters<F>, o?: FunctionOptions): FunctionCall<Awaited<ReturnType<F>>> {
    return this.functions.run<F>(module, exportName, args, o);
  }

  /** A local async function whose every call runs the export as a job. */
  remote<F extends AnyFn = AnyFn>(
    module: string | URL,
    exportName: string,
    o?: FunctionOptions,
  ): (...args: Parameters<F>) => FunctionCall<Awaited<ReturnType<F>>> {
    return this.functions.remote<F>(module, exportName, o);
  }

  /** `exportName(item)` for each item as ONE job array; results in input order. */
  map<F extends AnyFn = AnyFn>(module: string | URL, exportName: string, items: Iterable<Parameters<F>[0]>, o?: MapOptions): MapCall<Awaited<ReturnType<F>>> {
    return this.functions.map<F>(module, exportName, items, o);
  }

  info(o?: CallOptions): Promise<AgentInfo> {
    return this.connection.call(agentInfo, {}, o);
  }

  /**
   * Storage layout: home, work, scratch, /tmp, node-local dirs; fs type, capacity, quota, shared guess; where job files go.
   * With `verify: true`, a probe job first checks which locations compute nodes really see and records it (the result has `probe`).
   */
  storage(o: StorageOptions & { verify: true }): Promise<StorageVerifyResult>;
  storage(o?: StorageOptions): Promise<StorageReport>;
  storage(o?: StorageOptions): Promise<StorageReport> {
    return detectStorage(this.connection, o);
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
