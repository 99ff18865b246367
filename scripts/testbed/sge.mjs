// Testbed component: a real single-node Son of Grid Engine 8.1.9 cell (Debian 12
// packages) on loopback, hermetic and idempotent.
//
// The cell is our own: SGE_ROOT=${TESTBED_DIR}/sge/root (symlinks to the
// packaged binaries, exactly the layout of a real $SGE_ROOT), SGE_CELL=clustrix,
// Berkeley DB spool, qmaster and execd spools and logs under ${TESTBED_DIR}/sge/,
// own ports (SGE_QMASTER_PORT / SGE_EXECD_PORT from freePort). The Debian system
// cell (/var/lib/gridengine/default) is neither configured nor used: we preseed
// gridengine-common with shared/gridengineconfig=false.
//
// Privileges (a deliberate choice): sge_qmaster and sge_execd run as root with
// admin_user none (root does the spooling). A non-root cell (admin_user = the
// test user) also works (SCHEDULERS.md), but then that user is the cell's
// admin, and execd can only run that user's jobs. As root the cell behaves like
// a real site: clxtest is an ordinary user (not manager/operator), any test user
// can submit, `qdel` of another user's job is refused, min_uid=1000 refuses
// root's jobs. This is also what the Slurm component does.
//
// Daemons run in the foreground (SGE_ND=1) so the pids we record are the daemons.
//
// Grid Engine specifics a client must expect (all verified here):
// - jobs are started through the queue's shell as a *login* shell (Debian's
//   default login_shells=bash,sh,ksh,csh,tcsh), so the user's ~/.profile runs
//   and anything it prints lands at the top of the job's stdout, as on many
//   real sites (the test user's profile prints a banner on purpose);
// - `-b y` re-joins the command's argv with spaces and runs it through the
//   shell: `qsub -b y sh -c 'exit 3'` runs `sh -c exit 3` (exit 0). Submit a
//   script for anything non-trivial;
// - without -cwd/-o/-e, stdout/stderr go to $HOME/<name>.o<id>/.e<id>.
//
// Recorded state (JSON): see the typedef below.

/**
 * @typedef {object} SgeTestbedState
 * @property {{sge_qmaster:number, sge_execd:number}} pids
 * @property {{SGE_ROOT:string, SGE_CELL:string, SGE_QMASTER_PORT:string, SGE_EXECD_PORT:string}} env
 * @property {string} path             bin dir to prepend to PATH ($SGE_ROOT/bin/lx-amd64); the
 *                                      /usr/bin wrappers also honour the env above
 * @property {string[]} queues          ['all.q' (default: lowest seq_no), 'long.q']
 * @property {string} nodeName          the exec host as SGE names it (= `hostname`)
 * @property {number} slots             total slots of the host (shared by both queues)
 * @property {string} jobsDir           directory owned by clxtest for job output
 * @property {boolean} canEnforceMemory true if -l h_vmem is enforced (measured in up())
 * @property {object} memoryKill        what the h_vmem probe job looked like
 * @property {boolean} canEnforceTime   -l h_rt is enforced (see TIME_LIMIT_KILL)
 * @property {object} timeLimitKill
 * @property {boolean} loginShellJobs   job shells are login shells (profile output in job stdout)
 * @property {string} user              the test user jobs are submitted as
 * @property {string} dir               ${TESTBED_DIR}/sge
 * @property {number} verifySubmitToDoneMs  submit → accounting record, trivial job, in up()
 */
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus as osCpus } from 'node:os';
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

export const name = 'sge';

const DIR = join(TESTBED_DIR, 'sge');
const SGE_ROOT = join(DIR, 'root');
const SGE_CELL = 'clustrix';
const SGE_LIB = '/usr/lib/gridengine';
const SGE_SHARE = '/usr/share/gridengine';
const ARCH = 'lx-amd64'; // what $SGE_ROOT/util/arch prints on Debian amd64
const PACKAGES = ['gridengine-master', 'gridengine-exec', 'gridengine-client'];
const PRESEED = [
  // Do not let the package configure (and try to start) the system cell.
  'gridengine-common shared/gridengineconfig boolean false',
  'gridengine-common shared/gridenginecell string default',
  'gridengine-common shared/gridenginemaster string localhost',
];
const QUEUES = ['all.q', 'long.q'];
/**
 * Measured once (not on every up(): it costs the limit plus a few seconds):
 * `qsub -l h_rt=0:0:5 -b y sleep 60` ran 6 s (ru_wallclock), then qacct showed
 * `failed 37  : qmaster enforced h_rt, h_cpu, or h_vmem limit` and
 * `exit_status 137 (Killed)`; the job's stdout/stderr get nothing extra.
 */
const TIME_LIMIT_KILL = {
  failed: '37  : qmaster enforced h_rt, h_cpu, or h_vmem limit',
  exitStatus: 137,
  killedAfterLimitSec: [0, 2],
};

const say = (msg) => log(name, msg);

// ---------------------------------------------------------------------------
// Package installation without letting Debian start system services.

const POLICY_RC_D = '/usr/sbin/policy-rc.d';
const POLICY_MARK = '# clustrix testbed: temporary, forbids service starts during apt-get install';

/** System daemons the packages could start, with their Debian pid files. */
const systemPidFiles = () => [
  { service: 'gridengine-master', pidFile: '/var/spool/gridengine/qmaster/qmaster.pid' },
  { service: 'gridengine-exec', pidFile: `/var/spool/gridengine/execd/${shortHost()}/execd.pid` },
];

function runningSystemServices() {
  return systemPidFiles()
    .filter((s) => isAlive(pidFromFile(s.pidFile)))
    .map((s) => s.service);
}

function installPackages() {
  const before = new Set(runningSystemServices());
  let wrotePolicy = false;
  if (isRoot() && !existsSync(POLICY_RC_D)) {
    writeFileSync(POLICY_RC_D, `#!/bin/sh\n${POLICY_MARK}\nexit 101\n`, { mode: 0o755 });
    wrotePolicy = true;
  }
  try {
    return ensureDebPackages(name, PACKAGES, { preseed: PRESEED });
  } finally {
    if (wrotePolicy && existsSync(POLICY_RC_D) && readFileSync(POLICY_RC_D, 'utf8').includes(POLICY_MARK)) {
      rmSync(POLICY_RC_D, { force: true });
    }
    for (const service of runningSystemServices()) {
      if (before.has(service)) continue;
      const [cmd, args] = existsSync('/run/systemd/system') ? ['systemctl', ['stop', service]] : ['service', [service, 'stop']];
      const r = tryRun(cmd, args, { timeout: 60_000 });
      say(`stopped system service ${service} started by its package install (${r.code === 0 ? 'ok' : r.stderr})`);
    }
  }
}

// ---------------------------------------------------------------------------
// Helpers

function shortHost() {
  return run('hostname', ['-s']) || run('hostname');
}

function mkdir(path, mode = 0o755) {
  mkdirSync(path, { recursive: true });
  chmodSync(path, mode);
  return path;
}

/** Pid files our daemons write: execd's per-host spool dir(s), then qmaster's (stop order). */
function ownPidFiles() {
  const files = [];
  const execd = join(DIR, 'spool', 'execd');
  if (existsSync(execd)) for (const h of readdirSync(execd)) files.push(join(execd, h, 'execd.pid'));
  files.push(join(DIR, 'spool', 'qmaster', 'qmaster.pid'));
  return files;
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

/** Daemons of an earlier instance whose state record was lost (only if really ours: cwd inside DIR). */
async function stopStaleDaemons() {
  for (const f of ownPidFiles()) {
    const pid = pidFromFile(f);
    if (pid && isOurProcess(pid)) {
      say(`stopping stale daemon (pid ${pid}, ${f}) left by an earlier run`);
      await stopPid(pid, { timeoutMs: 30_000 });
    }
  }
}

function clientEnv(state) {
  return {
    ...process.env,
    ...state.env,
    PATH: `${state.path}:${process.env.PATH ?? '/usr/bin:/bin'}`,
  };
}

/** Run a command as the test user (argv, uid/gid switch; no shell). */
function runAs(user, state, cmd, args, { cwd, timeout = 30_000 } = {}) {
  return tryRun(cmd, args, {
    uid: user.uid,
    gid: user.gid,
    cwd: cwd ?? user.home,
    timeout,
    env: {
      PATH: `${state.path}:/usr/local/bin:/usr/bin:/bin`,
      HOME: user.home,
      USER: user.name,
      LOGNAME: user.name,
      ...state.env,
    },
  });
}

/** Names under which the resolver reverse-maps our host's addresses (e.g. 127.0.0.1 → localhost). */
function hostAliases(host) {
  const names = new Set();
  const addrs = tryRun('getent', ['ahostsv4', host])
    .stdout.split('\n')
    .map((l) => l.split(/\s+/)[0])
    .filter(Boolean);
  for (const ip of new Set(addrs)) {
    const r = tryRun('getent', ['hosts', ip]);
    for (const n of r.stdout.split(/\s+/).slice(1)) if (n && n !== host) names.add(n);
  }
  return [...names];
}

function machineCpus() {
  const n = Number(tryRun('nproc').stdout);
  return Number.isInteger(n) && n > 0 ? n : osCpus().length;
}

/** Parse `qconf -s…`-style "key value" text into a Map (keeps order). */
function parseConf(text) {
  const m = new Map();
  for (const line of text.split('\n')) {
    const match = /^(\S+)\s+(.*)$/.exec(line);
    if (match && !line.startsWith('#')) m.set(match[1], match[2].trim());
  }
  return m;
}
const formatConf = (m) => [...m].map(([k, v]) => `${k.padEnd(22)} ${v}`).join('\n') + '\n';

function globalConfiguration(execdSpool) {
  const conf = parseConf(readFileSync(join(SGE_SHARE, 'default-configuration'), 'utf8'));
  conf.set('execd_spool_dir', execdSpool);
  conf.set('mailer', '/bin/true');
  // Accounting written at once (accounting_flush_time 0) so `qacct -j` works right after a job.
  conf.set('reporting_params', 'accounting=true reporting=false flush_time=00:00:01 joblog=false sharelog=00:00:00 accounting_flush_time=00:00:00');
  conf.set('load_report_time', '00:00:05');
  conf.set('finished_jobs', '100');
  conf.set('administrator_mail', 'none');
  return formatConf(conf);
}

function qconf(env, args, input) {
  const r = tryRun('qconf', args, { env, timeout: 30_000, ...(input ? { input } : {}) });
  if (r.code !== 0) throw new Error(`qconf ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
  return r.stdout;
}

/** Write `text` to a file named `base` under DIR/conf and return its path (qconf -A/-M read files). */
function confFile(base, text) {
  const f = join(DIR, 'conf', base);
  writeFileSync(f, text);
  return f;
}

function queueConf(template, qname, host, seqNo) {
  const q = parseConf(template);
  q.set('qname', qname);
  q.set('hostlist', host);
  q.set('seq_no', String(seqNo));
  q.set('pe_list', 'NONE'); // Debian's template names PEs that do not exist
  q.set('load_thresholds', 'NONE'); // a busy CI machine must not block scheduling
  q.set('slots', '2');
  q.set('tmpdir', '/tmp');
  return formatConf(q);
}

/** True once the job's accounting record is written (accounting_flush_time 0: right after it ends). */
function jobDone(user, state, id) {
  return runAs(user, state, 'qacct', ['-j', String(id)]).code === 0;
}

function qacctFields(text) {
  const f = {};
  for (const line of text.split('\n')) {
    const m = /^(\w+)\s+(.*?)\s*$/.exec(line);
    if (m) f[m[1]] = m[2];
  }
  return f;
}

// ---------------------------------------------------------------------------

async function upLocked() {
  if (process.platform !== 'linux') return { skipped: 'Grid Engine testbed needs Linux (Debian packages)' };
  if (!isRoot()) return { skipped: 'Grid Engine testbed needs root (daemons run as root; packages via apt-get)' };
  if (!existsSync('/usr/bin/apt-get') && !existsSync(join(SGE_LIB, 'sge_qmaster'))) {
    return { skipped: 'not a Debian system and Grid Engine is not installed' };
  }
  const missing = installPackages();
  if (missing) return { skipped: missing };
  const arch = tryRun(join(SGE_SHARE, 'util', 'arch')).stdout || ARCH;

  ensureUser(TEST_USERS.main);
  const user = userInfo(TEST_USERS.main);
  const host = shortHost();

  // Fresh cell every time.
  await stopStaleDaemons();
  rmSync(DIR, { recursive: true, force: true });
  mkdir(TESTBED_DIR);
  mkdir(DIR);
  const common = mkdir(join(SGE_ROOT, SGE_CELL, 'common'));
  for (const d of ['bin', 'utilbin', 'lib']) {
    mkdir(join(SGE_ROOT, d));
    symlinkSync(SGE_LIB, join(SGE_ROOT, d, arch));
  }
  symlinkSync(join(SGE_SHARE, 'util'), join(SGE_ROOT, 'util'));
  const spoolDb = mkdir(join(DIR, 'spool', 'db'));
  const qmasterSpool = mkdir(join(DIR, 'spool', 'qmaster'));
  const execdSpool = mkdir(join(DIR, 'spool', 'execd'));
  mkdir(join(DIR, 'conf'));
  mkdir(join(DIR, 'log'));
  const jobsDir = mkdir(join(DIR, 'jobs'));
  chownSync(jobsDir, user.uid, user.gid);

  writeFileSync(
    join(common, 'bootstrap'),
    [
      '# Version: 6.2',
      '# Generated by scripts/testbed/sge.mjs',
      'admin_user              none',
      'default_domain          none',
      'ignore_fqdn             true',
      'spooling_method         berkeleydb',
      'spooling_lib            libspoolb',
      `spooling_params         ${spoolDb}`,
      'binary_path             /usr/sbin',
      `qmaster_spool_dir       ${qmasterSpool}`,
      'security_mode           none',
      'listener_threads        2',
      'worker_threads          2',
      'scheduler_threads       1',
      '',
    ].join('\n'),
  );
  // The hostname resolves to 127.0.0.1, which reverse-resolves to `localhost`:
  // without this alias qmaster and execd disagree about who they are.
  const aliases = hostAliases(host);
  writeFileSync(join(common, 'host_aliases'), aliases.length ? `${host} ${aliases.join(' ')}\n` : '');
  writeFileSync(join(common, 'act_qmaster'), `${host}\n`);
  writeFileSync(join(common, 'settings.sh'), `SGE_ROOT=${SGE_ROOT}; export SGE_ROOT\nSGE_CELL=${SGE_CELL}; export SGE_CELL\n`);

  const qmasterPort = await freePort();
  let execdPort = await freePort();
  while (execdPort === qmasterPort) execdPort = await freePort();
  const env = {
    SGE_ROOT,
    SGE_CELL,
    SGE_QMASTER_PORT: String(qmasterPort),
    SGE_EXECD_PORT: String(execdPort),
  };
  const state0 = { env, path: join(SGE_ROOT, 'bin', arch) };
  const adminEnv = clientEnv(state0);

  // Initialise the spool the way Debian's init_cluster does, with our own configuration.
  const spool = (args) => run(join(SGE_LIB, args[0]), args.slice(1), { env: adminEnv, timeout: 60_000 });
  spool(['spoolinit', 'berkeleydb', 'libspoolb', spoolDb, 'init']);
  spool(['spooldefaults', 'configuration', confFile('global', globalConfiguration(execdSpool))]);
  spool(['spooldefaults', 'complexes', join(SGE_SHARE, 'util', 'resources', 'centry')]);
  spool(['spooldefaults', 'usersets', join(SGE_SHARE, 'util', 'resources', 'usersets')]);
  spool(['spooldefaults', 'managers', 'root']);

  const daemonEnv = { ...adminEnv, SGE_ND: '1' }; // SGE_ND: do not daemonize
  const pids = {};
  const fail = async (msg) => {
    await downLocked({ pids, env, path: state0.path }).catch(() => {});
    // execd names its spool subdirectory after the reverse-resolved name (here: localhost).
    const execdLogs = existsSync(execdSpool) ? readdirSync(execdSpool).map((h) => join(execdSpool, h, 'messages')) : [];
    const logs = [join(qmasterSpool, 'messages'), ...execdLogs, join(DIR, 'log', 'sge_qmaster.out'), join(DIR, 'log', 'sge_execd.out')]
      .filter((f) => existsSync(f))
      .map((f) => `--- ${f}\n${readFileSync(f, 'utf8').split('\n').slice(-15).join('\n')}`)
      .join('\n');
    throw new Error(`${msg}\n${logs}`);
  };

  pids.sge_qmaster = spawnDaemon(join(SGE_LIB, 'sge_qmaster'), [], {
    logFile: join(DIR, 'log', 'sge_qmaster.out'),
    env: daemonEnv,
    cwd: DIR,
  });
  let nodeName = host;
  try {
    await waitFor(
      'sge_qmaster to answer',
      () => {
        if (!isAlive(pids.sge_qmaster)) throw new Error('sge_qmaster exited');
        return tryRun('qconf', ['-sh'], { env: adminEnv, timeout: 10_000 }).code === 0;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    nodeName = tryRun(join(SGE_LIB, 'gethostname'), ['-aname'], { env: adminEnv }).stdout || host;

    // Scheduler: every second, and right after submits/finishes (default is ~15-30 s per job);
    // seqno sorting makes all.q (seq_no 0) the default queue.
    const sched = parseConf(qconf(adminEnv, ['-ssconf']));
    sched.set('schedule_interval', '0:0:1');
    sched.set('flush_submit_sec', '1');
    sched.set('flush_finish_sec', '1');
    sched.set('queue_sort_method', 'seqno');
    qconf(adminEnv, ['-Msconf', confFile('sched_configuration', formatConf(sched))]);

    qconf(adminEnv, ['-as', nodeName]);
    // Both queues share the host's `slots` so at most `cpus` jobs run at once.
    const slots = machineCpus();
    qconf(adminEnv, [
      '-Ae',
      confFile(
        'exechost',
        formatConf(
          new Map([
            ['hostname', nodeName],
            ['load_scaling', 'NONE'],
            ['complex_values', `slots=${slots}`],
            ['user_lists', 'NONE'],
            ['xuser_lists', 'NONE'],
            ['projects', 'NONE'],
            ['xprojects', 'NONE'],
            ['usage_scaling', 'NONE'],
            ['report_variables', 'NONE'],
          ]),
        ),
      ),
    ]);
    // `qconf -sq` with no queue prints the built-in template.
    const template = tryRun('qconf', ['-sq'], { env: adminEnv }).stdout;
    QUEUES.forEach((q, i) => qconf(adminEnv, ['-Aq', confFile(q, queueConf(template, q, nodeName, i * 10))]));
    state0.slots = slots;
  } catch (err) {
    await fail(`sge_qmaster setup failed: ${err.message}`);
  }

  pids.sge_execd = spawnDaemon(join(SGE_LIB, 'sge_execd'), [], {
    logFile: join(DIR, 'log', 'sge_execd.out'),
    env: daemonEnv,
    cwd: DIR,
  });
  try {
    await waitFor(
      'execd to report load',
      () => {
        if (!isAlive(pids.sge_execd)) throw new Error('sge_execd exited');
        if (!isAlive(pids.sge_qmaster)) throw new Error('sge_qmaster exited');
        const r = tryRun('qhost', ['-h', nodeName], { env: adminEnv, timeout: 10_000 });
        // Until execd reports, qhost shows "-" for the load.
        const line = r.stdout.split('\n').find((l) => l.startsWith(nodeName));
        return r.code === 0 && line && !/\s-\s+-\s+-/.test(line);
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
  } catch (err) {
    await fail(`sge_execd did not register: ${err.message}`);
  }

  // Verify: as the test user, a trivial job runs and is accounted.
  const t0 = Date.now();
  const sub = runAs(user, state0, 'qsub', ['-terse', '-cwd', '-b', 'y', '-N', 'clxverify', '/bin/echo', 'hi'], {
    cwd: jobsDir,
  });
  if (sub.code !== 0) await fail(`qsub as ${user.name} failed: ${sub.stderr || sub.stdout}`);
  const jobId = sub.stdout.trim();
  try {
    await waitFor(`sge job ${jobId} to finish`, () => jobDone(user, state0, jobId), {
      timeoutMs: 60_000,
      intervalMs: 100,
    });
  } catch (err) {
    await fail(err.message);
  }
  const verifySubmitToDoneMs = Date.now() - t0;
  const out = join(jobsDir, `clxverify.o${jobId}`);
  const lines = existsSync(out) ? readFileSync(out, 'utf8').trim().split('\n') : [];
  if (lines.at(-1) !== 'hi') await fail(`verification job ${jobId}: output ${lines.length ? 'wrong' : 'missing'}`);
  say(`verification job ${jobId} submit→done in ${verifySubmitToDoneMs} ms`);

  const memoryKill = await probeMemoryEnforcement(user, state0, jobsDir);
  say(`memory limit enforcement: ${JSON.stringify(memoryKill)}`);

  return {
    pids,
    env,
    path: state0.path,
    queues: QUEUES,
    nodeName,
    slots: state0.slots,
    jobsDir,
    canEnforceMemory: memoryKill.enforced,
    memoryKill,
    canEnforceTime: true,
    timeLimitKill: TIME_LIMIT_KILL,
    loginShellJobs: true,
    user: user.name,
    dir: DIR,
    verifySubmitToDoneMs,
  };
}

/**
 * A job that tries to grow to ~300 MB under -l h_vmem=100M; enforced if it dies
 * without finishing. h_vmem is an address-space rlimit set by execd, not a
 * kill: the program's allocation fails and it dies however it handles that
 * (bash segfaults: exit_status 139, failed "100 : assumedly after job").
 */
async function probeMemoryEnforcement(user, state, jobsDir) {
  const script = join(jobsDir, 'memprobe.sh');
  writeFileSync(
    script,
    '#!/bin/bash\nulimit -c 0\nx=0123456789abcdef; while :; do x="$x$x"; [ ${#x} -gt 300000000 ] && break; done; sleep 1; echo survived\n',
    { mode: 0o755 },
  );
  chownSync(script, user.uid, user.gid);
  const sub = runAs(user, state, 'qsub', ['-terse', '-cwd', '-l', 'h_vmem=100M', '-N', 'memprobe', script], {
    cwd: jobsDir,
  });
  if (sub.code !== 0) return { enforced: false, note: `qsub failed: ${sub.stderr || sub.stdout}` };
  const id = sub.stdout.trim();
  try {
    await waitFor(`memory probe ${id}`, () => jobDone(user, state, id), { timeoutMs: 60_000, intervalMs: 200 });
  } catch (err) {
    tryRun('qdel', [id], { env: clientEnv(state) });
    return { enforced: false, note: err.message };
  }
  const acct = qacctFields(runAs(user, state, 'qacct', ['-j', id]).stdout);
  const outFile = join(jobsDir, `memprobe.o${id}`);
  const errFile = join(jobsDir, `memprobe.e${id}`);
  const out = existsSync(outFile) ? readFileSync(outFile, 'utf8') : '';
  const err = existsSync(errFile) ? readFileSync(errFile, 'utf8').trim().split('\n').at(-1) : '';
  return {
    enforced: !out.includes('survived') && acct.exit_status !== '0',
    exitStatus: Number.parseInt(acct.exit_status, 10),
    failed: acct.failed,
    maxvmem: acct.maxvmem,
    stderrTail: err,
  };
}

async function downLocked(state) {
  const pids = state?.pids ?? {};
  if (state?.env && isAlive(pids.sge_qmaster)) {
    const env = clientEnv(state);
    // Delete every job so no sge_shepherd (forked by execd) outlives the cell.
    const q = tryRun('qstat', ['-u', '*'], { env, timeout: 10_000 });
    if (q.code === 0 && q.stdout.trim()) {
      tryRun('qdel', ['-f', '-u', '*'], { env, timeout: 15_000 });
      await waitFor('jobs deleted', () => tryRun('qstat', ['-u', '*'], { env, timeout: 10_000 }).stdout.trim() === '', {
        timeoutMs: 15_000,
      }).catch(() => {});
    }
  }
  await stopPid(pids.sge_execd, { timeoutMs: 20_000 });
  await stopPid(pids.sge_qmaster, { timeoutMs: 30_000 }); // takes ~10 s
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
  if (!pids || !isAlive(pids.sge_qmaster) || !isAlive(pids.sge_execd) || !state.env) return false;
  const env = clientEnv(state);
  if (tryRun('qstat', ['-u', '*'], { env, timeout: 10_000 }).code !== 0) return false;
  const r = tryRun('qstat', ['-f', '-q', state.queues?.[0] ?? 'all.q'], { env, timeout: 10_000 });
  // Columns: queuename qtype resv/used/tot load_avg arch [states]. A queue instance
  // in alarm/unknown/disabled/error state (a, u, d, E) is not healthy.
  const line = r.stdout.split('\n').find((l) => l.includes('@'));
  if (r.code !== 0 || !line) return false;
  const states = line.trim().split(/\s+/)[5] ?? '';
  return !/[audE]/.test(states);
}
