/**
 * `cluster.envs`: dependency environments on the cluster, built once per spec
 * and reused. `ensure` streams the build log; await `result` (or iterate).
 */
import { envsEnsure, type EnvEnsureResult, type EnvLogChunk, type EnvSpec, type ParamsIn } from '../protocol/index.js';
import type { CallOptions, Connection, RemoteStream } from './connection.js';

export type EnsureOptions = Omit<ParamsIn<typeof envsEnsure>, 'spec'> &
  CallOptions & {
    /** Called with every chunk of build output (also when iterating is not wanted). */
    onLog?: (chunk: EnvLogChunk) => void;
  };

export class EnvsApi {
  readonly #c: Connection;
  constructor(conn: Connection) {
    this.#c = conn;
  }

  /** The raw stream: iterate log chunks; `result` is the summary. */
  stream(spec: EnvSpec, o: Omit<EnsureOptions, 'onLog'> = {}): RemoteStream<EnvLogChunk, EnvEnsureResult> {
    const { signal, timeoutMs, ...rest } = o;
    const call: CallOptions = {};
    if (signal) call.signal = signal;
    if (timeoutMs !== undefined) call.timeoutMs = timeoutMs;
    return this.#c.stream(envsEnsure, { spec, ...rest }, call);
  }

  /**
   * Make sure the environment exists: `{ hash, path, activate, built, durationMs }`.
   * A failed build rejects with a RemoteError whose `details` hold the
   * command's argv, exit code and output tail.
   */
  async ensure(spec: EnvSpec, o: EnsureOptions = {}): Promise<EnvEnsureResult> {
    const { onLog, ...rest } = o;
    const s = this.stream(spec, rest);
    for await (const chunk of s) onLog?.(chunk);
    return s.result;
  }
}
