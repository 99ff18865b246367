/**
 * Functions on a real Slurm 22.05 (the testbed's single-node cluster),
 * through a real agent running as the unprivileged test user. "What the
 * scheduler saw" is counted from the agent's own scheduler-call counters
 * (every sbatch it ran).
 */
import { join } from 'node:path';
import { describeBed, loadBed, schedulerEnv, startUserAgent, userInfoOf } from '../jobs/support.js';
import { defineFunctionsSuite } from './suite.js';

const { state: slurm, reason } = loadBed('slurm');

describeBed('functions on real Slurm', reason, () => {
  defineFunctionsSuite(async () => {
    const user = userInfoOf(slurm!.user);
    const agent = await startUserAgent(user, schedulerEnv(user, slurm, null));
    return {
      scheduler: 'slurm',
      scratch: join(agent.root, 'scratch'),
      connect: () => agent.connect(),
      submissions: async (c) => (await c.jobs.stats()).calls.sbatch ?? 0,
      async killAgent() {
        await agent.kill9();
        await agent.start();
      },
      cleanup: () => agent.cleanup(),
    };
  });
});
