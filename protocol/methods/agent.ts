/** Methods about the agent itself. */
import * as v from 'valibot';
import { unary, returns } from '../method.js';

export interface AgentInfo {
  protocol: number;
  build: string;
  pid: number;
  host: string;
  user: string;
  node: string;
  platform: string;
  arch: string;
  startedAt: number;
  uptimeMs: number;
  connections: number;
  inFlight: number;
  rssBytes: number;
  runDir: string;
  root: string;
  idleExitMs: number;
  logFile: string;
}

const Empty = v.optional(v.object({}), {});

export const agentInfo = unary('agent.info', Empty, returns<AgentInfo>());
export const agentPing = unary('agent.ping', Empty, returns<{ now: number }>());
/** Ask the agent to exit after answering. Other clients see their connection close. */
export const agentShutdown = unary('agent.shutdown', Empty, returns<{ stopping: true }>());
