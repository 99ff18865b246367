/**
 * Which scheduler does this login node have? Looked up on PATH and in the
 * usual configuration places (no command is run): sbatch+squeue with a
 * slurm.conf → slurm, bsub+bjobs → lsf, qsub+qstat with $SGE_ROOT (or the
 * default cell's act_qmaster) → sge, qsub+qstat with pbsnodes or
 * $PBS_EXEC/$PBS_CONF_FILE → pbs, else local. Client packages installed on a
 * machine that is not part of a cluster (a laptop, a CI box) have no
 * configuration: that machine gets the local scheduler, not a failing sbatch.
 * $CLUSTRIX_SCHEDULER overrides.
 */
import { accessSync, constants, existsSync } from 'node:fs';
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

/** Where Slurm keeps slurm.conf (packages, source builds, configless caches of slurmd). */
const SLURM_CONFS = [
  '/etc/slurm/slurm.conf',
  '/etc/slurm-llnl/slurm.conf',
  '/usr/local/etc/slurm.conf',
  '/opt/slurm/etc/slurm.conf',
  '/run/slurm/conf/slurm.conf',
  '/var/spool/slurmd/conf-cache/slurm.conf',
  '/var/spool/slurm/d/conf-cache/slurm.conf',
];
/** The Debian/default Grid Engine cell. */
const SGE_DEFAULT_CELL = '/var/lib/gridengine/default/common/act_qmaster';

export function detectScheduler(env: NodeJS.ProcessEnv = process.env, exists: (p: string) => boolean = existsSync): DetectResult {
  const has = (...cmds: string[]) => cmds.every((c) => onPath(c, env));
  const available: SchedulerName[] = [];
  const notes: string[] = [];
  if (has('sbatch', 'squeue', 'scancel')) {
    if (env.SLURM_CONF || SLURM_CONFS.some(exists)) available.push('slurm');
    else notes.push('sbatch is on PATH but no slurm.conf was found (set SLURM_CONF, or CLUSTRIX_SCHEDULER=slurm for a configless site)');
  }
  if (has('bsub', 'bjobs', 'bkill')) available.push('lsf');
  const qsub = has('qsub', 'qstat', 'qdel');
  if (qsub && (has('qconf') || env.SGE_ROOT)) {
    if (env.SGE_ROOT || exists(SGE_DEFAULT_CELL)) available.push('sge');
    else notes.push('qsub and qconf are on PATH but no Grid Engine cell is configured (set SGE_ROOT)');
  }
  if (qsub && (has('pbsnodes') || env.PBS_EXEC || env.PBS_CONF_FILE)) available.push('pbs');
  available.push('local');
  const forced = env.CLUSTRIX_SCHEDULER as SchedulerName | undefined;
  if (forced && SCHEDULERS.includes(forced)) return { scheduler: forced, available, how: '$CLUSTRIX_SCHEDULER' };
  const scheduler = available[0]!;
  const how = scheduler === 'local' ? (notes.length ? notes.join('; ') : 'no batch scheduler commands on PATH') : `${scheduler} commands found on PATH`;
  return { scheduler, available, how };
}
