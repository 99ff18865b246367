/**
 * Functions on the embedded default: `connect('local')` and the local
 * scheduler, through the real agent process.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe } from 'vitest';
import { isAlive, localEnv } from '../support/local-agent.js';
import { until } from '../jobs/support.js';
import { defineFunctionsSuite } from './suite.js';

describe('functions on the local scheduler', () => {
  defineFunctionsSuite(async () => {
    const env = localEnv({ idleExitMs: 300_000 });
    return {
      scheduler: 'local',
      scratch: join(env.root, 'scratch'),
      connect: () => env.connect(),
      // Every local submission is a job dir with the local scheduler's queue entry.
      async submissions() {
        try {
          return readdirSync(join(env.root, 'jobs')).filter((id) => !id.startsWith('.')).length;
        } catch {
          return 0;
        }
      },
      async killAgent() {
        const pid = env.lockPid()!;
        process.kill(pid, 'SIGKILL');
        await until('the agent to die', () => !isAlive(pid), 10_000, 50);
      },
      cleanup: () => env.cleanup(),
    };
  });
});
