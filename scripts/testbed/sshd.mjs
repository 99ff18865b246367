// Testbed component "sshd": three real OpenSSH servers on 127.0.0.1, each on a
// free port with its own generated config, host key and log under
// `${TESTBED_DIR}/sshd/`. Nothing in /etc/ssh is read or changed.
//
//   main       stream-local and TCP forwarding allowed, pre-auth Banner
//   noforward  all forwarding refused: the client must fall back to an exec bridge
//   jump       bastion for ProxyJump tests (direct-tcpip to main allowed)
//
// As root it also installs openssh-server and tcsh, creates the test accounts and
// gives them noisy dotfiles. Not as root it serves only the current user, with
// authorized_keys kept in the testbed dir (a developer's ~/.ssh is never touched).
/**
 * State returned by up() and recorded in state.json under "sshd":
 *
 * @typedef {object} SshdInstance
 * @property {number} port
 * @property {number} pid        the sshd listener we started (-D: it does not fork away)
 * @property {string} config     its sshd_config
 * @property {string} log        sshd -E log (LogLevel VERBOSE)
 * @property {string} hostKeyPub its host public key ("ssh-ed25519 AAAA…" file)
 * @property {boolean} streamLocal  AllowStreamLocalForwarding
 * @property {boolean} tcp          AllowTcpForwarding
 *
 * @typedef {object} SshdState
 * @property {string} host                      always '127.0.0.1'
 * @property {{ main: SshdInstance, noforward: SshdInstance, jump: SshdInstance }} instances
 * @property {string} knownHosts                `[127.0.0.1]:PORT ssh-ed25519 …` per instance
 * @property {string} knownHostsHashed          same entries, hashed (`|1|salt|hash`)
 * @property {string} clientKey                 unencrypted ed25519 private key (0600)
 * @property {string} clientKeyEncrypted        ed25519 private key encrypted with clientKeyPassphrase
 * @property {string} clientKeyPassphrase       'testpass'
 * @property {{ main: string, tcsh: string, other: string|null }} users
 *           accounts tests log in as; non-root: all the current user, other = null
 * @property {Record<string, string>} homes     home directory of each distinct user above
 * @property {boolean} root                     whether up() ran as root
 * @property {string} sshConfig                 ssh_config with aliases (see `aliases`), for ssh -F
 * @property {{ main: string, noforward: string, jump: string, viaJump: string }} aliases
 *           Host names in sshConfig; viaJump reaches main through jump with ProxyJump
 * @property {string|null} bannerFile           pre-auth Banner text served by main
 * @property {string} loginNoise                text the noisy dotfiles print on stdout (root mode)
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import {
  TESTBED_DIR,
  ensureDebPackages,
  isAlive,
  isRoot,
  stopPid,
  freePort,
  log,
  readState,
  run,
  spawnDaemon,
  tryRun,
  which,
  writeComponentState,
} from './common.mjs';
import { LOGIN_NOISE, installAuthorizedKeys, prepareAccounts, writeNoisyDotfiles, writeTestbedAuthorizedKeys } from './sshd/accounts.mjs';
import { ALIASES, INSTANCES, renderClientConfig, renderSshdConfig } from './sshd/config.mjs';
import { CLIENT_KEY_PASSPHRASE, ensureClientKeys, ensureKeyPair, writeKnownHosts } from './sshd/keys.mjs';
import { verifyInstances } from './sshd/verify.mjs';

export const name = 'sshd';

const SSHD = '/usr/sbin/sshd';
const HOST = '127.0.0.1';
const DIR = join(TESTBED_DIR, 'sshd');
const BANNER_TEXT = 'Authorized users only. This is the clustrix testbed (pre-auth Banner).\n';

/** @returns {Promise<SshdState | { skipped: string }>} */
export async function up() {
  const reason = ensureTools();
  if (reason) return { skipped: reason };
  mkdirSync(DIR, { recursive: true });
  chmodSync(DIR, 0o755);
  return withUpLock(async () => {
    // Another process (a parallel `vitest run`) may have brought it up while we waited.
    const current = readState()[name];
    if (current && !current.skipped && (await healthy(current))) {
      log(name, 'already up (started by another process)');
      return current;
    }
    const state = await startAll();
    writeComponentState(name, state); // publish before releasing the lock
    return state;
  });
}

/** Accounts, keys, three instances, checks. Stops what it started if anything fails. */
async function startAll() {
  const accounts = prepareAccounts(DIR);
  const keys = ensureClientKeys(DIR);
  if (accounts.root) {
    accounts.infos.forEach((info) => installAuthorizedKeys(info, keys.pubKeys, DIR));
    writeNoisyDotfiles(accounts.infos);
  } else {
    writeTestbedAuthorizedKeys(accounts.authorizedKeysFile, keys.pubKeys);
  }
  const bannerFile = join(DIR, 'banner.txt');
  writeFileSync(bannerFile, BANNER_TEXT, { mode: 0o644 });

  const instances = {};
  try {
    for (const [inst, spec] of Object.entries(INSTANCES)) {
      await stopLeftover(inst);
      instances[inst] = await startInstance(inst, spec, accounts, spec.banner ? bannerFile : null);
    }
    const state = describeState(accounts, keys, instances, bannerFile);
    await verifyInstances(state);
    return state;
  } catch (err) {
    // index.mjs records a failed up as "skipped", so nothing would ever stop these.
    await Promise.all(Object.values(instances).map((i) => stopPid(i.pid, { timeoutMs: 10_000 })));
    throw err;
  }
}

/**
 * Serialise `up` across processes: two parallel test runs would otherwise both
 * start instances that share PidFile paths, and one set would leak unrecorded.
 * The lock file holds the owner's pid; a lock whose owner is dead is stale.
 */
async function withUpLock(fn, timeoutMs = 300_000) {
  const lock = join(DIR, 'up.lock');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
    }
    const owner = lockOwner(lock);
    if (owner === null) continue; // released between our two looks
    if (!isAlive(owner)) {
      rmSync(lock, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`${lock} held by pid ${owner} for over ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

/** Pid in the lock file; 0 if unreadable (a half-written lock counts as stale); null if gone. */
function lockOwner(lock) {
  try {
    return Number(readFileSync(lock, 'utf8').trim()) || 0;
  } catch (err) {
    if (err.code === 'ENOENT') return null;
    throw err;
  }
}

/** Stop exactly the sshd listeners recorded in `state`, and only if they are still ours. */
export async function down(state) {
  const stops = Object.entries(state?.instances ?? {}).map(async ([inst, i]) => {
    if (!isAlive(i.pid)) return;
    if (!isOurSshd(i.pid, i.config)) {
      log(name, `${inst}: pid ${i.pid} is no longer our sshd (pid reused?); leaving it alone`);
      return;
    }
    await stopPid(i.pid, { timeoutMs: 10_000 });
  });
  await Promise.all(stops);
}

/** True when every recorded instance is our live sshd and accepts TCP connections. */
export async function healthy(state) {
  if (!state?.instances || !existsSync(state.clientKey) || !existsSync(state.knownHosts)) return false;
  for (const i of Object.values(state.instances)) {
    if (!isAlive(i.pid) || !isOurSshd(i.pid, i.config)) return false;
    if (!(await portOpen(i.port))) return false;
  }
  return true;
}

/**
 * Root: install what is missing. Not root: sshd must already be there.
 * Returns null when ready, or the reason to skip.
 */
function ensureTools() {
  if (!isRoot()) {
    if (!existsSync(SSHD)) return 'sshd not installed and not root: install openssh-server';
    if (!which('ssh') || !which('ssh-keygen')) return 'ssh/ssh-keygen not found and not root: install openssh-client';
    return null;
  }
  const missing = ensureDebPackages(name, ['openssh-server', 'openssh-client', 'tcsh']);
  if (missing) return missing;
  if (!existsSync(SSHD)) return `${SSHD} missing even though openssh-server is installed`;
  // Root sshd chroots its pre-auth child into /run/sshd and refuses to start
  // without it; /run is a tmpfs, so it vanishes on reboot (systemd normally makes it).
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  return null;
}

/** Start one instance on a free port; retry if another process grabbed the port first. */
async function startInstance(inst, spec, accounts, bannerFile) {
  const dir = join(DIR, inst);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const hostKey = join(dir, 'ssh_host_ed25519_key');
  ensureKeyPair(hostKey, { comment: `clustrix-testbed-${inst}-host` });
  const config = join(dir, 'sshd_config');
  const logFile = join(dir, 'sshd.log');
  const extra = sshdExtraOptions(hostKey);

  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    writeFileSync(
      config,
      renderSshdConfig({
        host: HOST,
        port,
        hostKey,
        pidFile: pidFileOf(inst),
        spec,
        bannerFile,
        allowUsers: [...new Set(Object.values(accounts.users).filter(Boolean))],
        authorizedKeysFile: accounts.authorizedKeysFile,
        strictModes: accounts.strictModes,
        extra,
      }),
    );
    run(SSHD, ['-t', '-f', config]); // config errors surface here with sshd's own message
    writeFileSync(logFile, ''); // one log per run: tests may grep it
    const pid = spawnDaemon(SSHD, ['-D', '-f', config, '-E', logFile], { logFile });
    try {
      await waitListening(pid, port, logFile);
      log(name, `${inst} listening on ${HOST}:${port} (pid ${pid})`);
      return { port, pid, config, log: logFile, hostKey, streamLocal: spec.streamLocal, tcp: spec.tcp };
    } catch (err) {
      await stopPid(pid, { timeoutMs: 10_000 });
      const lostRace = /Address already in use/.test(readFileSync(logFile, 'utf8'));
      if (!lostRace || attempt >= 3) throw err;
    }
  }
}

const pidFileOf = (inst) => join(DIR, inst, 'sshd.pid');

/**
 * Options only newer sshd versions know. PerSourcePenalties (OpenSSH 9.8+)
 * would throttle 127.0.0.1 after the failed logins tests provoke on purpose,
 * making later tests fail at random; older sshd rejects the keyword outright.
 */
function sshdExtraOptions(hostKey) {
  const probe = tryRun(SSHD, ['-t', '-f', '/dev/null', '-h', hostKey, '-o', 'PerSourcePenalties=no']);
  return probe.code === 0 ? ['PerSourcePenalties no'] : [];
}

/** Wait until sshd accepts connections; fail fast with its log if it exits. */
async function waitListening(pid, port, logFile, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await portOpen(port))) {
    if (!isAlive(pid) || Date.now() > deadline) {
      const tail = readFileSync(logFile, 'utf8').trim().split('\n').slice(-15).join('\n');
      throw new Error(`sshd (pid ${pid}) is not listening on ${HOST}:${port}; ${logFile}:\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function portOpen(port) {
  return new Promise((res) => {
    const s = connect({ port, host: HOST });
    s.once('connect', () => {
      s.destroy();
      res(true);
    });
    s.once('error', () => res(false));
  });
}

/**
 * Is `pid` the sshd started with `config`? Guards against pid reuse (after a
 * reboot a recorded pid may be anyone, even the system sshd). sshd rewrites its
 * process title, but the listener's title keeps the original command line.
 */
function isOurSshd(pid, config) {
  let cmdline;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    cmdline = tryRun('ps', ['-o', 'args=', '-p', String(pid)]).stdout; // no /proc (macOS)
  }
  return cmdline.includes(config);
}

/**
 * A previous up that crashed before recording state may have left an instance
 * running; its PidFile tells us, and isOurSshd makes sure it is really ours.
 */
async function stopLeftover(inst) {
  const pidFile = pidFileOf(inst);
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (pid > 0 && isAlive(pid) && isOurSshd(pid, join(DIR, inst, 'sshd_config'))) {
    log(name, `${inst}: stopping leftover sshd pid ${pid}`);
    await stopPid(pid, { timeoutMs: 10_000 });
  }
}

function describeState(accounts, keys, started, bannerFile) {
  const knownHosts = join(DIR, 'known_hosts');
  const knownHostsHashed = join(DIR, 'known_hosts.hashed');
  writeKnownHosts(HOST, Object.values(started), knownHosts, knownHostsHashed);
  const sshConfig = join(DIR, 'ssh_config');
  const ports = Object.fromEntries(Object.entries(started).map(([k, v]) => [k, v.port]));
  writeFileSync(
    sshConfig,
    renderClientConfig({
      host: HOST,
      ports,
      user: accounts.users.main,
      clientKey: keys.clientKey,
      knownHosts,
    }),
    { mode: 0o644 },
  );

  const instances = Object.fromEntries(Object.entries(started).map(([k, { hostKey, ...rest }]) => [k, { ...rest, hostKeyPub: `${hostKey}.pub` }]));
  return {
    host: HOST,
    instances,
    knownHosts,
    knownHostsHashed,
    clientKey: keys.clientKey,
    clientKeyEncrypted: keys.clientKeyEncrypted,
    clientKeyPassphrase: CLIENT_KEY_PASSPHRASE,
    users: accounts.users,
    homes: Object.fromEntries(accounts.infos.map((i) => [i.name, i.home])),
    root: accounts.root,
    sshConfig,
    aliases: { ...ALIASES },
    bannerFile,
    loginNoise: LOGIN_NOISE,
  };
}
