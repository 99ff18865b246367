/** A raw WebSocket client over a Unix socket: sends arbitrary bytes, collects decoded agent frames. */
import { WebSocket } from 'ws';
import { decodeAgentFrame, encodeFrame, PROTOCOL_VERSION, type AgentFrame } from '../../protocol/index.js';

export interface RawClient {
  ws: WebSocket;
  frames: AgentFrame[];
  sendBytes(b: Uint8Array | string): void;
  send(frame: object): void;
  /** Resolve when `n` frames (in total) have arrived. */
  waitFrames(n: number, timeoutMs?: number): Promise<AgentFrame[]>;
  closed: Promise<{ code: number; reason: string }>;
  close(): void;
}

/** `headers`: extra upgrade request headers (e.g. a hello header); `token` null sends no hello frame. */
export async function rawClient(socketPath: string, token: string | null, headers: Record<string, string> = {}): Promise<RawClient> {
  const ws = new WebSocket(`ws+unix://${socketPath}:/`, { perMessageDeflate: false, maxPayload: 256 * 1024 * 1024, headers });
  const frames: AgentFrame[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  ws.on('message', (data: Buffer) => {
    frames.push(decodeAgentFrame(data, 1 << 30));
    for (const w of [...waiters]) if (frames.length >= w.n) w.resolve();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const client: RawClient = {
    ws,
    frames,
    sendBytes: (b) => ws.send(b, { binary: typeof b !== 'string' }),
    send: (f) => ws.send(encodeFrame(f as never), { binary: true }),
    waitFrames: (n, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        if (frames.length >= n) return resolve(frames);
        const t = setTimeout(() => reject(new Error(`only ${frames.length} of ${n} frames arrived in ${timeoutMs} ms`)), timeoutMs);
        waiters.push({
          n,
          resolve: () => {
            clearTimeout(t);
            resolve(frames);
          },
        });
      }),
    closed,
    close: () => ws.close(),
  };
  if (token !== null) {
    client.send({ t: 'hello', v: PROTOCOL_VERSION, token });
    await client.waitFrames(1);
    if (frames[0]?.t !== 'welcome') throw new Error(`no welcome: ${JSON.stringify(frames[0])}`);
    frames.length = 0;
  }
  return client;
}
