/**
 * Jobs handlers: registered against the methods of protocol/methods/jobs.ts.
 * One JobService (and so one poller) per agent, shared by every client.
 */
import {
  isTerminal,
  jobsCancel,
  jobsDetect,
  jobsGet,
  jobsList,
  jobsLogs,
  jobsProgress,
  jobsStats,
  jobsSubmit,
  jobsWatch,
  ProtocolError,
} from '../../protocol/index.js';
import type { Logger } from '../log.js';
import type { Registry } from '../registry.js';
import { tailProgress } from './progress.js';
import { JobService, type JobServiceOptions } from './service.js';
import { taskKey } from './wrapper.js';

export interface JobHandlerOptions extends Omit<JobServiceOptions, 'log' | 'hold'> {
  log: Logger;
  /** The agent server: its hold() keeps the agent alive while jobs are watched. */
  server?: { hold(): () => void };
}

export function registerJobHandlers(registry: Registry, o: JobHandlerOptions): JobService {
  const { server, ...rest } = o;
  const svc = new JobService({ ...rest, ...(server ? { hold: () => server.hold() } : {}) });
  svc.recover().then(
    (n) => n > 0 && o.log.info({ jobs: n }, 'recovered unfinished jobs'),
    (err: Error) => o.log.error({ err: err.stack }, 'job recovery failed'),
  );
  registry.unary(jobsSubmit, (p) => svc.submit(p));
  registry.unary(jobsGet, (p) => svc.get(p.id, p.refresh));
  registry.unary(jobsList, (p) => svc.list(p));
  registry.unary(jobsCancel, (p) => svc.cancel(p.id, p.tasks));
  registry.stream(jobsWatch, (p, ctx) => svc.watch(p, (events) => ctx.send(events), ctx.signal));
  registry.stream(jobsLogs, (p, ctx) => svc.logs(p, (chunk) => ctx.send(chunk), { signal: ctx.signal, chunkBytes: ctx.limits.transferChunkBytes }));
  registry.stream(jobsProgress, (p, ctx) => {
    const rec = svc.mustFind(p.id);
    if (p.task !== undefined && !rec.spec.array) throw new ProtocolError('INVALID_PARAMS', `jobs.progress: params.task: job ${rec.id} is not an array`);
    const key = p.task === undefined ? undefined : taskKey(p.task);
    const done = () => {
      const now = svc.store.read(rec.id) ?? rec;
      if (isTerminal(now.state)) return true;
      const t = key === undefined ? undefined : now.tasks[key];
      return t !== undefined && isTerminal(t.state);
    };
    const o = {
      jobDir: svc.store.jobDir(rec.id),
      follow: p.follow,
      done,
      signal: ctx.signal,
      ...(key ? { task: key } : {}),
      ...(p.after ? { after: p.after } : {}),
    };
    return tailProgress(o, (batch) => ctx.send(batch));
  });
  registry.unary(jobsStats, () => svc.stats());
  registry.unary(jobsDetect, () => svc.detected);
  return svc;
}

export { JobService } from './service.js';
