/**
 * Which scheduler does this login node have? Looked up on PATH (no command is
 * run): sbatch+squeue → slurm, bsub+bjobs → lsf, qsub+qstat with qconf or
 * $SGE_ROOT → sge, qsub+qstat with pbsnodes or $PBS_EXEC/$PBS_CONF_FILE → pbs,
 * else local. $CLUSTRIX_SCHEDULER overrides.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { SCHEDULERS, type DetectResult, type SchedulerName } from '../../protocol/index.js';

export function onPath(cmd: string, env: NodeJS.ProcessEnv): boolean {
  for (const dir of (env.PATH ?? '/usr/bin:/bin').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return true;
    } catch {
      /* next */
    }
  }
  return false;
}

export function detectScheduler(env: NodeJS.ProcessEnv = process.env): DetectResult {
  const has = (...cmds: string[]) => cmds.every((c) => onPath(c, env));
  const available: SchedulerName[] = [];
  if (has('sbatch', 'squeue', 'scancel')) available.push('slurm');
  if (has('bsub', 'bjobs', 'bkill')) available.push('lsf');
  const qsub = has('qsub', 'qstat', 'qdel');
  if (qsub && (has('qconf') || env.SGE_ROOT)) available.push('sge');
  if (qsub && (has('pbsnodes') || env.PBS_EXEC || env.PBS_CONF_FILE)) available.push('pbs');
  available.push('local');
  const forced = env.CLUSTRIX_SCHEDULER as SchedulerName | undefined;
  if (forced && SCHEDULERS.includes(forced)) return { scheduler: forced, available, how: '$CLUSTRIX_SCHEDULER' };
  const scheduler = available[0]!;
  return { scheduler, available, how: scheduler === 'local' ? 'no batch scheduler commands on PATH' : `${scheduler} commands found on PATH` };
}
