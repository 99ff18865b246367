// Key material for the sshd testbed: host keys, client keys, known_hosts files.
// Everything is made with ssh-keygen (argv only) and reused across `up`s so a
// restart only changes ports, not identities.
import { chmodSync, copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { run, tryRun } from '../common.mjs';

/** Passphrase of the encrypted client key (tests of encrypted keys use it). */
export const CLIENT_KEY_PASSPHRASE = 'testpass';

/**
 * Make an ed25519 key pair at `path` / `path.pub` unless both already exist.
 * A half-written pair (one file missing) is regenerated: ssh-keygen would
 * otherwise stop and ask whether to overwrite.
 */
export function ensureKeyPair(path, { comment, passphrase = '' }) {
  if (existsSync(path) && existsSync(`${path}.pub`)) return;
  rmSync(path, { force: true });
  rmSync(`${path}.pub`, { force: true });
  run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', comment, '-f', path]);
  chmodSync(path, 0o600);
  chmodSync(`${path}.pub`, 0o644);
}

/** The client keys: one unencrypted, one protected by CLIENT_KEY_PASSPHRASE. */
export function ensureClientKeys(dir) {
  const clientKey = `${dir}/id_ed25519`;
  const clientKeyEncrypted = `${dir}/id_ed25519_encrypted`;
  ensureKeyPair(clientKey, { comment: 'clustrix-testbed-client' });
  ensureKeyPair(clientKeyEncrypted, {
    comment: 'clustrix-testbed-client-encrypted',
    passphrase: CLIENT_KEY_PASSPHRASE,
  });
  checkEncryptedKey(clientKeyEncrypted);
  return { clientKey, clientKeyEncrypted, pubKeys: [readPub(clientKey), readPub(clientKeyEncrypted)] };
}

/** Prove the encrypted key really needs the passphrase, and that it is the right one. */
function checkEncryptedKey(path) {
  if (tryRun('ssh-keygen', ['-y', '-P', '', '-f', path]).code === 0) {
    throw new Error(`${path} is not encrypted; delete it and run up again`);
  }
  if (tryRun('ssh-keygen', ['-y', '-P', CLIENT_KEY_PASSPHRASE, '-f', path]).code !== 0) {
    throw new Error(`${path} does not open with passphrase "${CLIENT_KEY_PASSPHRASE}"; delete it and run up again`);
  }
}

/** "ssh-ed25519 AAAA… comment" of a key pair. */
export function readPub(privatePath) {
  return readFileSync(`${privatePath}.pub`, 'utf8').trim();
}

/**
 * Write `knownHosts` with one plain `[127.0.0.1]:PORT ssh-ed25519 AAAA…` line per
 * instance, and `knownHostsHashed` with the same entries hashed by `ssh-keygen -H`
 * (the `|1|salt|hash` form many real ~/.ssh/known_hosts files use).
 *
 * @param {{ port: number, hostKey: string }[]} instances
 */
export function writeKnownHosts(host, instances, knownHosts, knownHostsHashed) {
  const lines = instances.map(({ port, hostKey }) => {
    const [type, blob] = readPub(hostKey).split(/\s+/);
    return `[${host}]:${port} ${type} ${blob}`;
  });
  writeFileSync(knownHosts, lines.join('\n') + '\n', { mode: 0o644 });
  copyFileSync(knownHosts, knownHostsHashed);
  run('ssh-keygen', ['-H', '-f', knownHostsHashed]);
  rmSync(`${knownHostsHashed}.old`, { force: true }); // ssh-keygen -H keeps a plain backup
  const hashed = readFileSync(knownHostsHashed, 'utf8');
  if (!hashed.startsWith('|1|')) throw new Error(`ssh-keygen -H did not hash ${knownHostsHashed}`);
}
