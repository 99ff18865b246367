/** Types for latency-proxy.mjs (plain ESM so the bench and tests can share it without a build). */
export interface LatencyProxy {
  readonly port: number;
  readonly delayMs: number;
  setDelay(ms: number): void;
  /** Stop (true) or resume (false) forwarding in both directions, like a network outage. */
  freeze(on: boolean): void;
  close(): Promise<void>;
}

export function startLatencyProxy(o: {
  targetPort: number;
  targetHost?: string;
  delayMs?: number;
  maxConnections?: number;
  maxBufferedBytes?: number;
}): Promise<LatencyProxy>;
