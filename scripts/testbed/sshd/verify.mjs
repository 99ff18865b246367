// Prove the instances do what tests rely on, with the real ssh(1) client,
// before `up` reports success. Async on purpose: the stream-local probe serves
// a Unix socket from this process while ssh connects to it.
import { execFile, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOGIN_NOISE } from './accounts.mjs';
import { ALIASES, quotePath } from './config.mjs';

/** The remote command: through /bin/sh, as the client does, whatever the login shell. */
const ECHO_OK = "/bin/sh -c 'echo ok'";

/** Run ssh; resolves { code, stdout, stderr } (never rejects on a non-zero exit). */
function ssh(args, { timeoutMs = 30_000 } = {}) {
  return new Promise((resolve) => {
    execFile('ssh', args, { encoding: 'utf8', timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 255) : 0;
      resolve({ code, stdout, stderr: stderr || (err && typeof err.code !== 'number' ? String(err.message) : '') });
    });
  });
}

/** ssh options that depend on nothing but the testbed files (no ~/.ssh, no system config). */
function directArgs(state, port) {
  const options = [
    'BatchMode=yes',
    `UserKnownHostsFile=${quotePath(state.knownHosts)}`,
    'GlobalKnownHostsFile=/dev/null',
    'StrictHostKeyChecking=yes',
    'IdentitiesOnly=yes',
    'ConnectTimeout=10',
  ];
  return ['-F', '/dev/null', ...options.flatMap((o) => ['-o', o]), '-i', state.clientKey, '-p', String(port)];
}

function describe(what, r) {
  return `${what}: exit ${r.code}\nstdout: ${r.stdout.trim()}\nstderr: ${r.stderr.trim()}`;
}

/** `echo ok` must come back as the last stdout line, whatever noise precedes it. */
async function expectEchoOk(what, args, { expectNoise = false } = {}) {
  const r = await ssh([...args, ECHO_OK]);
  const lines = r.stdout.trim().split('\n');
  if (r.code !== 0 || lines.at(-1) !== 'ok') throw new Error(`login check failed, ${describe(what, r)}`);
  if (expectNoise && !r.stdout.includes(LOGIN_NOISE)) {
    throw new Error(`login noise missing (the noisy-shell tests would prove nothing), ${describe(what, r)}`);
  }
}

/** What ssh prints when the server refuses to open a forwarding channel. */
const PROHIBITED = /administratively prohibited|open failed/i;

/**
 * Ask sshd for a direct-streamlocal channel to a throwaway Unix socket that
 * answers "pong". OpenSSH 9.2's `ssh -W` only takes host:port, so this runs
 * `ssh -N -L local.sock:probe.sock` and connects to local.sock. Both sockets sit
 * in a fresh 0755 dir under the system tmpdir, probe.sock with mode 0666, so the
 * sshd session (running as the test user) may connect to it.
 * Resolves { reply, stderr }: reply is "pong" when the server allowed the channel.
 */
async function streamLocalProbe(state, port, user) {
  const dir = mkdtempSync(join(tmpdir(), 'clx-sshd-probe-'));
  chmodSync(dir, 0o755);
  const remote = join(dir, 'probe.sock');
  const local = join(dir, 'local.sock');
  const server = createServer((c) => c.end('pong\n'));
  let child;
  try {
    await new Promise((res, rej) => server.once('error', rej).listen(remote, res));
    chmodSync(remote, 0o666);
    const args = [...directArgs(state, port), '-N', '-o', 'ExitOnForwardFailure=yes', '-L', `${local}:${remote}`, `${user}@${state.host}`];
    child = spawn('ssh', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    const exited = new Promise((res) => child.once('exit', res));
    if (!(await waitUntil(() => existsSync(local), exited, 15_000))) throw new Error(`ssh -L never listened: ${stderr}`);
    const reply = await readAll(local);
    // On refusal ssh logs "open failed" as it closes our connection; let that line arrive.
    if (reply !== 'pong') await waitUntil(() => PROHIBITED.test(stderr), exited, 2_000);
    return { reply, stderr };
  } finally {
    child?.kill();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Poll `ok()` until true (resolves true); false once `exited` settles or timeoutMs passes. */
async function waitUntil(ok, exited, timeoutMs) {
  let gone = false;
  exited.then(() => (gone = true));
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (gone || Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/** Connect to a Unix socket and collect everything until the peer closes. */
function readAll(path) {
  return new Promise((res, rej) => {
    let data = '';
    connect(path)
      .setEncoding('utf8')
      .on('data', (d) => (data += d))
      .on('close', () => res(data.trim()))
      .on('error', rej);
  });
}

async function expectStreamLocal(state, name, allowed) {
  const r = await streamLocalProbe(state, state.instances[name].port, state.users.main);
  const what = `${name} -L socket:socket`;
  if (allowed && r.reply !== 'pong') {
    throw new Error(`stream-local forwarding should work, ${what}: got "${r.reply}"\nstderr: ${r.stderr.trim()}`);
  }
  if (!allowed && (r.reply === 'pong' || !PROHIBITED.test(r.stderr))) {
    throw new Error(`stream-local forwarding should be refused, ${what}: got "${r.reply}"\nstderr: ${r.stderr.trim()}`);
  }
}

/** noforward must refuse direct-tcpip too (there is no TCP fallback to hide behind). */
async function expectTcpRefused(state, name) {
  const { instances, host, users } = state;
  const target = `${host}:${instances.main.port}`;
  const r = await ssh([...directArgs(state, instances[name].port), '-W', target, `${users.main}@${host}`]);
  if (r.code === 0 || !PROHIBITED.test(r.stderr)) {
    throw new Error(`TCP forwarding should be refused, ${describe(`${name} -W ${target}`, r)}`);
  }
}

/** Every check `up` makes, run in parallel; throws one error listing each failure with ssh's own output. */
export async function verifyInstances(state) {
  const { instances, host, users, root } = state;
  const as = (user, name) => [...directArgs(state, instances[name].port), `${user}@${host}`];
  const checks = [
    ...Object.keys(instances).map((name) => expectEchoOk(`${users.main}@${name}`, as(users.main, name), { expectNoise: root })),
    expectEchoOk(`${users.tcsh}@main (tcsh)`, as(users.tcsh, 'main'), { expectNoise: root }),
    ...(users.other ? [expectEchoOk(`${users.other}@main`, as(users.other, 'main'))] : []),
    expectEchoOk(`${ALIASES.viaJump} (ProxyJump)`, ['-F', state.sshConfig, ALIASES.viaJump]),
    expectStreamLocal(state, 'main', true),
    expectStreamLocal(state, 'noforward', false),
    expectTcpRefused(state, 'noforward'),
  ];
  const results = await Promise.allSettled(checks);
  const failures = results.filter((r) => r.status === 'rejected').map((r) => r.reason.message);
  if (failures.length > 0) throw new Error(`sshd testbed checks failed:\n${failures.join('\n\n')}`);
}
