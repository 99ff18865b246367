/**
 * The agent bundle this client ships (dist/agent.mjs) and its build hash,
 * computed exactly as the agent computes its own.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConnectionError } from './errors.js';

export interface AgentBundle {
  path: string;
  bytes: Buffer;
  build: string;
}

/** Same length as the agent's BUILD_HASH_CHARS. */
const BUILD_HASH_CHARS = 16;

function candidates(): string[] {
  const out: string[] = [];
  if (process.env.CLUSTRIX_AGENT_BUNDLE) out.push(process.env.CLUSTRIX_AGENT_BUNDLE);
  // dist/client.mjs and dist/cli.mjs sit beside dist/agent.mjs; from source, client/ is beside dist/.
  out.push(fileURLToPath(new URL('./agent.mjs', import.meta.url)));
  out.push(fileURLToPath(new URL('../dist/agent.mjs', import.meta.url)));
  return out;
}

let cached: AgentBundle | null = null;

export function agentBundle(): AgentBundle {
  if (cached) return cached;
  const tried = candidates();
  const path = tried.find((p) => existsSync(p));
  if (!path) {
    throw new ConnectionError('handshake', `agent bundle not found (looked in ${tried.join(', ')}); run \`npm run build\``);
  }
  const bytes = readFileSync(path);
  cached = { path, bytes, build: createHash('sha256').update(bytes).digest('hex').slice(0, BUILD_HASH_CHARS) };
  return cached;
}
