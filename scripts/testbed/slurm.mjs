// Testbed component: a real single-node Slurm 22.05 cluster (Debian 12 packages)
// on loopback, hermetic and idempotent.
//
// Everything lives under ${TESTBED_DIR}/slurm/: our own munge key, munged socket,
// slurm.conf, state, spool, pid and log files. Nothing in /etc/slurm, /etc/munge
// or the system munged is used or modified; daemons get their own ports
// (freePort) and run in the foreground so the pids we record are the ones to stop.
//
// Privileges (a deliberate choice): munged, slurmctld and slurmd run as root
// (SlurmUser=root). Slurm also runs fully unprivileged (SCHEDULERS.md), but then
// the unprivileged user is the Slurm administrator and slurmd can only start
// that user's jobs. As root the cluster behaves like a real site: clxtest is an
// ordinary, non-admin user whose jobs run under its own uid, other test users
// can submit too, and `scancel` of someone else's job is refused as on a real
// cluster. The testbed is brought up as root in CI and on developers' machines.
//
// Clients need only the environment in `state.env` (SLURM_CONF); the Slurm CLIs
// are the system ones on PATH (/usr/bin). Submit from (or --chdir to) a
// directory the user owns: job stdout defaults to the submit directory.
//
// Recorded state (JSON): see the typedef below.

/**
 * @typedef {object} SlurmTestbedState
 * @property {{munged:number, slurmctld:number, slurmd:number}} pids
 * @property {{SLURM_CONF:string}} env   all a client needs
 * @property {string[]} partitions      ['debug' (default), 'long']
 * @property {string} nodeName          the single node, = `hostname`
 * @property {number} cpus              CPUs of the node (= nproc)
 * @property {number} realMemoryMb      RealMemory of the node; --mem up to this is accepted
 * @property {number} maxArraySize      MaxArraySize (array indices 0..maxArraySize-1)
 * @property {number} minJobAgeSec      finished jobs stay visible to squeue/scontrol this long
 * @property {string} jobsDir           directory owned by clxtest for job output
 * @property {boolean} canEnforceMemory true if a job exceeding --mem is killed (measured in up())
 * @property {{enforced:boolean, jobState?:string, reason?:string, exitCode?:string,
 *            stderrMarker?:string|null, note?:string}} memoryKill
 *           what the killed probe job looked like: here FAILED / JobLaunchFailure / 0:9
 *           and "exceeded memory limit" in its stderr; NOT JobState=OUT_OF_MEMORY
 * @property {boolean} canEnforceTime   true: --time is enforced
 * @property {object} timeLimitKill     what a job over its --time looks like (measured once, see TIME_LIMIT_KILL)
 * @property {string} user              the test user jobs are submitted as
 * @property {{slurmctld:number, slurmd:number}} ports
 * @property {string} dir               ${TESTBED_DIR}/slurm
 * @property {number} verifySubmitToDoneMs  measured for a trivial job during up()
 */
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { totalmem, cpus as osCpus } from 'node:os';
import { join } from 'node:path';
import {
  pidFromFile,
  withComponentLock,
  stopPid,
  TESTBED_DIR,
  TEST_USERS,
  ensureDebPackages,
  ensureUser,
  freePort,
  isAlive,
  isRoot,
  log,
  readState,
  run,
  spawnDaemon,
  tryRun,
  userInfo,
  waitFor,
  writeComponentState,
} from './common.mjs';

export const name = 'slurm';

const DIR = join(TESTBED_DIR, 'slurm');
const PACKAGES = ['munge', 'slurmctld', 'slurmd', 'slurm-client'];
const MAX_ARRAY_SIZE = 1001;
const MIN_JOB_AGE = 300;
/**
 * Measured (not re-measured on every up(): it takes 60-90 s): a `-t 1` job
 * running `sleep 300` was killed after 62-88 s (three runs), JobState=TIMEOUT Reason=TimeLimit
 * ExitCode=0:15, stderr "slurmstepd-<node>: error: *** JOB <id> ON <node>
 * CANCELLED AT <time> DUE TO TIME LIMIT ***". slurmctld checks limits on a
 * ~30 s background cycle, so expect limit + 0..30 s (+KillWait 2 s).
 */
const TIME_LIMIT_KILL = {
  jobState: 'TIMEOUT',
  reason: 'TimeLimit',
  exitCode: '0:15',
  stderrMarker: 'DUE TO TIME LIMIT',
  killedAfterLimitSec: [0, 32],
};

const say = (msg) => log(name, msg);

// ---------------------------------------------------------------------------
// Package installation without letting Debian start system services.

const POLICY_RC_D = '/usr/sbin/policy-rc.d';
const POLICY_MARK = '# clustrix testbed: temporary, forbids service starts during apt-get install';

/** System services the packages may start, with the pid file their init script uses. */
const SYSTEM_SERVICES = [
  { service: 'munge', pidFile: '/run/munge/munged.pid' },
  { service: 'slurmctld', pidFile: '/run/slurmctld.pid' },
  { service: 'slurmd', pidFile: '/run/slurmd.pid' },
];

function runningSystemServices() {
  return SYSTEM_SERVICES.filter((s) => isAlive(pidFromFile(s.pidFile))).map((s) => s.service);
}

function stopSystemService(service) {
  const args = existsSync('/run/systemd/system') ? ['systemctl', ['stop', service]] : ['service', [service, 'stop']];
  const r = tryRun(args[0], args[1], { timeout: 60_000 });
  say(`stopped system service ${service} started by its package install (${r.code === 0 ? 'ok' : r.stderr})`);
}

/**
 * ensureDebPackages, with a policy-rc.d that forbids starting services while
 * installing (written only if none exists, removed afterwards), and a check
 * that no system service was started by the install anyway.
 */
function installPackages(packages, options) {
  const before = new Set(runningSystemServices());
  let wrotePolicy = false;
  if (isRoot() && !existsSync(POLICY_RC_D)) {
    writeFileSync(POLICY_RC_D, `#!/bin/sh\n${POLICY_MARK}\nexit 101\n`, { mode: 0o755 });
    wrotePolicy = true;
  }
  try {
    return ensureDebPackages(name, packages, options);
  } finally {
    if (wrotePolicy && existsSync(POLICY_RC_D) && readFileSync(POLICY_RC_D, 'utf8').includes(POLICY_MARK)) {
      rmSync(POLICY_RC_D, { force: true });
    }
    for (const s of runningSystemServices()) if (!before.has(s)) stopSystemService(s);
  }
}

// ---------------------------------------------------------------------------
// Helpers

function mkdir(path, mode = 0o755) {
  mkdirSync(path, { recursive: true });
  chmodSync(path, mode);
  return path;
}

/** Run a command as the test user (argv, uid/gid switch; no shell). */
function runAs(user, cmd, args, { env, cwd, timeout = 30_000 } = {}) {
  return tryRun(cmd, args, {
    uid: user.uid,
    gid: user.gid,
    cwd: cwd ?? user.home,
    timeout,
    env: {
      PATH: '/usr/local/bin:/usr/bin:/bin',
      HOME: user.home,
      USER: user.name,
      LOGNAME: user.name,
      ...env,
    },
  });
}

/**
 * Daemons of an earlier instance whose state record was lost: found through the
 * pid files in our own directory, and only if the process really is ours (its
 * command line or working directory is inside DIR).
 */
async function stopStaleDaemons() {
  const runDir = join(DIR, 'run');
  if (!existsSync(runDir)) return;
  // slurmd, then slurmctld, then munged (which the other two need to the end).
  const order = ['slurmd.pid', 'slurmctld.pid', 'munged.pid'];
  for (const f of order.filter((x) => readdirSync(runDir).includes(x))) {
    const pid = pidFromFile(join(runDir, f));
    if (pid && isOurProcess(pid)) {
      say(`stopping stale ${f.replace(/\.pid$/, '')} (pid ${pid}) left by an earlier run`);
      await stopPid(pid);
    }
  }
}

function isOurProcess(pid) {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    let cwd = '';
    try {
      cwd = readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      /* not readable */
    }
    return cmdline.includes(DIR) || cwd === DIR || cwd.startsWith(`${DIR}/`);
  } catch {
    return false;
  }
}

function slurmEnv(state) {
  return { ...process.env, ...state.env };
}

function machineMemoryMb() {
  return Math.floor(totalmem() / 1024 / 1024);
}

function machineCpus() {
  const r = tryRun('nproc');
  const n = Number(r.stdout);
  return Number.isInteger(n) && n > 0 ? n : osCpus().length;
}

function slurmConf({ host, ctlPort, dPort, cpus, realMemoryMb }) {
  const p = (...x) => join(DIR, ...x);
  return `# Generated by scripts/testbed/slurm.mjs: hermetic single-node test cluster.
ClusterName=clustrix
SlurmctldHost=${host}
# Daemons run as root: see the comment at the top of scripts/testbed/slurm.mjs.
SlurmUser=root
SlurmdUser=root
SlurmctldPort=${ctlPort}
SlurmdPort=${dPort}
AuthType=auth/munge
AuthInfo=socket=${p('munge', 'munge.socket')}
CredType=cred/munge
StateSaveLocation=${p('state')}
SlurmdSpoolDir=${p('spool')}
SlurmctldPidFile=${p('run', 'slurmctld.pid')}
SlurmdPidFile=${p('run', 'slurmd.pid')}
SlurmctldLogFile=${p('log', 'slurmctld.log')}
SlurmdLogFile=${p('log', 'slurmd.log')}
SlurmctldDebug=info
SlurmdDebug=info
MpiDefault=none
SwitchType=switch/none
# No cgroups: plain process tracking, no task binding.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
# Memory: --mem is a consumable (CR_Core_Memory) and enforced by the accounting
# poller, which kills a step whose RSS exceeds its limit (OverMemoryKill).
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
JobAcctGatherParams=OverMemoryKill
AccountingStorageType=accounting_storage/none
# No slurmdbd (so no sacct); a plain-text record of finished jobs instead.
JobCompType=jobcomp/filetxt
JobCompLoc=${p('log', 'jobcomp.log')}
# Fast scheduling: react to every submit/finish, no batching delays.
SchedulerType=sched/backfill
SchedulerParameters=sched_min_interval=0,bf_interval=1,default_queue_depth=2000,batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=100
# Arrays of 1,000 tasks must queue.
MaxArraySize=${MAX_ARRAY_SIZE}
MaxJobCount=50000
# Finished jobs stay visible to squeue/scontrol for this long.
MinJobAge=${MIN_JOB_AGE}
# Time limits: no grace period, kill quickly.
OverTimeLimit=0
KillWait=2
InactiveLimit=0
MessageTimeout=10
SlurmctldTimeout=60
SlurmdTimeout=300
ReturnToService=2
SlurmdParameters=config_overrides
NodeName=${host} NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${realMemoryMb} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
PartitionName=long Nodes=ALL MaxTime=INFINITE State=UP
`;
}

function scontrolJob(env, id, user) {
  const r = user
    ? runAs(user, 'scontrol', ['show', 'job', '-o', String(id)], { env })
    : tryRun('scontrol', ['show', 'job', '-o', String(id)], { env: { ...process.env, ...env } });
  if (r.code !== 0) return null;
  const fields = {};
  for (const m of r.stdout.matchAll(/(\w+)=(\S*)/g)) if (!(m[1] in fields)) fields[m[1]] = m[2];
  return fields;
}

async function waitJobDone(env, id, user, timeoutMs) {
  let job = null;
  await waitFor(
    `slurm job ${id} to finish`,
    () => {
      job = scontrolJob(env, id, user);
      return job && !['PENDING', 'RUNNING', 'CONFIGURING', 'COMPLETING'].includes(job.JobState);
    },
    { timeoutMs, intervalMs: 100 },
  );
  return job;
}

// ---------------------------------------------------------------------------

async function upLocked() {
  if (process.platform !== 'linux') return { skipped: 'Slurm testbed needs Linux (Debian packages)' };
  if (!isRoot()) return { skipped: 'Slurm testbed needs root (daemons run as root; packages via apt-get)' };
  if (!existsSync('/usr/bin/apt-get') && !existsSync('/usr/sbin/slurmctld')) {
    return { skipped: 'not a Debian system and Slurm is not installed' };
  }
  const missing = installPackages(PACKAGES);
  if (missing) return { skipped: missing };

  ensureUser(TEST_USERS.main);
  const user = userInfo(TEST_USERS.main);
  const host = run('hostname', ['-s']) || run('hostname');
  const cpus = machineCpus();
  const realMemoryMb = Math.max(256, Math.min(4000, Math.floor(machineMemoryMb() * 0.8)));

  // Fresh state every time: a previous cluster's state files would resurrect its jobs.
  await stopStaleDaemons();
  rmSync(DIR, { recursive: true, force: true });
  mkdir(TESTBED_DIR);
  mkdir(DIR);
  for (const d of ['state', 'spool', 'run', 'log']) mkdir(join(DIR, d));
  // munged insists its key and socket directories are not writable by others.
  mkdir(join(DIR, 'munge'), 0o755);
  const jobsDir = mkdir(join(DIR, 'jobs'), 0o755);
  chownSync(jobsDir, user.uid, user.gid);

  // Our own munge key: never the system one.
  const keyFile = join(DIR, 'munge', 'munge.key');
  run('mungekey', ['--create', '--keyfile', keyFile, '--bits', '1024', '--force']);
  chmodSync(keyFile, 0o400);
  const sock = join(DIR, 'munge', 'munge.socket');
  const munged = spawnDaemon(
    'munged',
    [
      '--foreground',
      `--socket=${sock}`,
      `--key-file=${keyFile}`,
      `--pid-file=${join(DIR, 'run', 'munged.pid')}`,
      `--log-file=${join(DIR, 'log', 'munged.log')}`,
      `--seed-file=${join(DIR, 'munge', 'munged.seed')}`,
    ],
    { logFile: join(DIR, 'log', 'munged.out') },
  );
  const pids = { munged };
  const fail = async (msg) => {
    await downLocked({ pids, env: { SLURM_CONF: join(DIR, 'slurm.conf') } }).catch(() => {});
    const tails = ['munged.log', 'munged.out', 'slurmctld.log', 'slurmctld.out', 'slurmd.log', 'slurmd.out']
      .map((f) => join(DIR, 'log', f))
      .filter((f) => existsSync(f))
      .map((f) => `--- ${f}\n${readFileSync(f, 'utf8').split('\n').slice(-15).join('\n')}`)
      .join('\n');
    throw new Error(`${msg}\n${tails}`);
  };
  try {
    await waitFor('munged socket', () => existsSync(sock) && isAlive(munged), { timeoutMs: 15_000 });
    // Prove the test user can get a credential from our munged.
    const m = runAs(user, 'munge', ['--socket', sock, '-n'], {});
    if (m.code !== 0) throw new Error(`munge as ${user.name} failed: ${m.stderr}`);
  } catch (err) {
    await fail(`munged did not start: ${err.message}`);
  }

  const ctlPort = await freePort();
  let dPort = await freePort();
  while (dPort === ctlPort) dPort = await freePort();
  const conf = join(DIR, 'slurm.conf');
  writeFileSync(conf, slurmConf({ host, ctlPort, dPort, cpus, realMemoryMb }), { mode: 0o644 });
  const env = { SLURM_CONF: conf };
  const daemonEnv = { ...process.env, SLURM_CONF: conf };

  // -D: foreground (the pid we record is the daemon); -i: ignore old state.
  pids.slurmctld = spawnDaemon('slurmctld', ['-D', '-i', '-f', conf], {
    logFile: join(DIR, 'log', 'slurmctld.out'),
    env: daemonEnv,
  });
  try {
    // Poll with a real client rather than a bare TCP connect (which slurmctld logs as an error).
    await waitFor(
      'slurmctld to answer',
      () => {
        if (!isAlive(pids.slurmctld)) throw new Error('slurmctld exited');
        return / is UP/.test(tryRun('scontrol', ['ping'], { env: daemonEnv, timeout: 10_000 }).stdout);
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
  } catch (err) {
    await fail(`slurmctld did not start: ${err.message}`);
  }
  pids.slurmd = spawnDaemon('slurmd', ['-D', '-f', conf, '-N', host], {
    logFile: join(DIR, 'log', 'slurmd.out'),
    env: daemonEnv,
  });
  try {
    await waitFor(
      'node idle',
      () => {
        if (!isAlive(pids.slurmctld) || !isAlive(pids.slurmd)) throw new Error('a daemon exited');
        const r = tryRun('sinfo', ['-h', '-N', '-o', '%T'], { env: daemonEnv, timeout: 10_000 });
        return r.code === 0 && /^idle/m.test(r.stdout);
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
  } catch (err) {
    await fail(`slurmd did not register: ${err.message}`);
  }

  // Verify: as the test user, a trivial job runs to completion.
  const t0 = Date.now();
  const sub = runAs(user, 'sbatch', ['--parsable', '-o', join(jobsDir, 'verify-%j.out'), '--wrap', 'echo hi'], {
    env,
    cwd: jobsDir,
  });
  if (sub.code !== 0) await fail(`sbatch as ${user.name} failed: ${sub.stderr}`);
  const jobId = sub.stdout.split(';')[0];
  let job;
  try {
    job = await waitJobDone(env, jobId, user, 60_000);
  } catch (err) {
    await fail(err.message);
  }
  const verifySubmitToDoneMs = Date.now() - t0;
  const out = join(jobsDir, `verify-${jobId}.out`);
  if (job.JobState !== 'COMPLETED' || !existsSync(out) || readFileSync(out, 'utf8').trim() !== 'hi') {
    await fail(`verification job ${jobId} ended ${job.JobState}, output ${existsSync(out) ? 'wrong' : 'missing'}`);
  }
  say(`verification job ${jobId} submit→done in ${verifySubmitToDoneMs} ms`);

  // Memory enforcement: a step that grows past --mem must be killed as OUT_OF_MEMORY.
  const memoryKill = await probeMemoryEnforcement(env, user, jobsDir);
  const canEnforceMemory = memoryKill.enforced;
  say(`memory limit enforcement: ${JSON.stringify(memoryKill)}`);

  return {
    pids,
    env,
    partitions: ['debug', 'long'],
    nodeName: host,
    cpus,
    realMemoryMb,
    maxArraySize: MAX_ARRAY_SIZE,
    minJobAgeSec: MIN_JOB_AGE,
    jobsDir,
    canEnforceMemory,
    memoryKill,
    canEnforceTime: true,
    timeLimitKill: TIME_LIMIT_KILL,
    user: user.name,
    ports: { slurmctld: ctlPort, slurmd: dPort },
    dir: DIR,
    verifySubmitToDoneMs,
  };
}

/**
 * Submit a job that grows to ~300 MB under --mem=50M and see what Slurm does.
 * Measured on Debian 12 / Slurm 22.05.8 with jobacct_gather/linux +
 * OverMemoryKill: the step is killed within ~1 s, but the job ends
 * JobState=FAILED Reason=JobLaunchFailure ExitCode=0:9 (not OUT_OF_MEMORY, which
 * needs cgroup memory enforcement), and the job's stderr gets
 * "slurmstepd-<node>: error: StepId=<id>.batch exceeded memory limit (<rss> > <limit>), being killed".
 */
async function probeMemoryEnforcement(env, user, jobsDir) {
  // Python is not guaranteed; grow a shell variable instead (bash string doubling).
  const script = 'x=0123456789abcdef; while :; do x="$x$x"; [ ${#x} -gt 300000000 ] && break; done; sleep 5; echo survived';
  const sub = runAs(user, 'sbatch', ['--parsable', '--mem=50M', '-t', '2', '-o', join(jobsDir, 'memprobe-%j.out'), '--wrap', `bash -c '${script}'`], {
    env,
    cwd: jobsDir,
  });
  if (sub.code !== 0) return { enforced: false, note: `sbatch failed: ${sub.stderr}` };
  const id = sub.stdout.split(';')[0];
  let job;
  try {
    job = await waitJobDone(env, id, user, 60_000);
  } catch (err) {
    tryRun('scancel', [id], { env: { ...process.env, ...env } });
    return { enforced: false, note: err.message };
  }
  const outFile = join(jobsDir, `memprobe-${id}.out`);
  const out = existsSync(outFile) ? readFileSync(outFile, 'utf8') : '';
  const marker = 'exceeded memory limit';
  return {
    enforced: !out.includes('survived') && (job.JobState === 'OUT_OF_MEMORY' || out.includes(marker)),
    jobState: job.JobState,
    reason: job.Reason,
    exitCode: job.ExitCode,
    stderrMarker: out.includes(marker) ? marker : null,
  };
}

async function downLocked(state) {
  const env = slurmEnv(state);
  // Cancel whatever is still queued or running so no slurmstepd outlives the
  // cluster (slurmstepd processes are children of slurmd but daemonized).
  if (isAlive(state?.pids?.slurmctld)) {
    const q = tryRun('squeue', ['-h', '-o', '%A'], { env, timeout: 10_000 });
    const ids = q.code === 0 ? q.stdout.split(/\s+/).filter(Boolean) : [];
    if (ids.length > 0) {
      tryRun('scancel', ids, { env, timeout: 10_000 });
      await waitFor('jobs cancelled', () => tryRun('squeue', ['-h', '-t', 'R,CG', '-o', '%A'], { env, timeout: 10_000 }).stdout === '', {
        timeoutMs: 15_000,
      }).catch(() => {});
    }
  }
  const pids = state?.pids ?? {};
  await stopPid(pids.slurmd);
  await stopPid(pids.slurmctld);
  await stopPid(pids.munged);
}

// ---------------------------------------------------------------------------
// Serialising concurrent testbed runs. index.mjs takes no lock, and two
// `index.mjs up` runs at once (several engineers/test suites on one machine)
// would otherwise each wipe and restart this component under the other (seen
// here). up()/down() hold an exclusive lock file; up() re-checks state.json once
// it has the lock and reuses an instance another run brought up meanwhile, and
// records its own state before releasing the lock.

export async function up() {
  return withComponentLock(name, async () => {
    const current = readState()[name];
    if (current && !current.skipped && (await healthy(current).catch(() => false))) {
      say('brought up meanwhile by another testbed run; reusing it');
      return current;
    }
    const state = await upLocked();
    writeComponentState(name, state);
    return state;
  });
}

export async function down(state) {
  return withComponentLock(name, () => downLocked(state));
}

export async function healthy(state) {
  const pids = state?.pids;
  if (!pids || !isAlive(pids.munged) || !isAlive(pids.slurmctld) || !isAlive(pids.slurmd)) return false;
  if (!state.env?.SLURM_CONF || !existsSync(state.env.SLURM_CONF)) return false;
  const r = tryRun('sinfo', ['-h', '-N', '-o', '%T'], { env: slurmEnv(state), timeout: 10_000 });
  return r.code === 0 && /^(idle|mixed|allocated)/m.test(r.stdout);
}
