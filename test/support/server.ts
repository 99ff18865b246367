/** An in-process AgentServer on a temp Unix socket, with whatever handlers a test registers. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentServer } from '../../agent/server.js';
import { silentLogger } from '../../agent/log.js';
import { Registry } from '../../agent/registry.js';
import { Connection } from '../../client/connection.js';
import { connectUnix } from '../../client/local.js';
import { DEFAULT_LIMITS, type Limits } from '../../protocol/index.js';

export const TOKEN = 'a'.repeat(64);

export interface TestServer {
  server: AgentServer;
  socketPath: string;
  connect(token?: string): Promise<Connection>;
  close(): Promise<void>;
}

export async function startTestServer(registry: Registry, limits: Partial<Limits> = {}, idleExitMs = 0, onIdle = () => {}): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'clx-srv-'));
  const socketPath = join(dir, 'agent.sock');
  const server = new AgentServer({
    socketPath,
    registry,
    limits: { ...DEFAULT_LIMITS, ...limits },
    token: TOKEN,
    build: 'testbuild',
    host: 'testhost',
    log: silentLogger,
    idleExitMs,
    onIdle,
  });
  await server.listen();
  const conns: Connection[] = [];
  return {
    server,
    socketPath,
    async connect(token = TOKEN) {
      const c = await Connection.open(await connectUnix(socketPath), { token, timeoutMs: 5000 });
      conns.push(c);
      return c;
    },
    async close() {
      await Promise.all(conns.map((c) => c.close()));
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export { Registry };
