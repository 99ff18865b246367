/**
 * Host keys and authentication against the real sshd testbed: unknown and
 * changed keys refused (with the fingerprint), accept-new, hashed
 * known_hosts, an encrypted key with a passphrase callback, ssh-agent.
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ConnectionError } from '../../../client/errors.js';
import { openSsh, type SshOptions } from '../../../client/ssh/connect.js';
import { fingerprint } from '../../../client/ssh/known-hosts.js';
import { execScript } from '../../../client/ssh/remote-exec.js';
import { bed, describeSsh, login } from './bed.js';

/** Options that ignore the testbed ssh_config: only what each test passes. */
function bare(extra: SshOptions): SshOptions {
  return { configFiles: [], identityFiles: [bed.clientKey], agent: false, ...extra };
}

const pubBlob = (file: string) => Buffer.from(readFileSync(file, 'utf8').split(/\s+/)[1]!, 'base64');

describeSsh('ssh e2e: host keys and auth', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'clx-auth-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses an unknown host key, naming its fingerprint', async () => {
    const kh = join(dir, 'empty_known_hosts');
    writeFileSync(kh, '');
    const err = await openSsh(login('main'), bare({ knownHostsFiles: [kh] })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as ConnectionError).kind).toBe('host-key');
    expect((err as ConnectionError).message).toContain(fingerprint(pubBlob(bed.instances.main.hostKeyPub)));
    expect(readFileSync(kh, 'utf8')).toBe('');
  });

  it('accept-new records the key like OpenSSH, and the next connect verifies against it', async () => {
    const kh = join(dir, 'accept_known_hosts');
    const s = await openSsh(login('main'), bare({ knownHostsFiles: [kh], acceptNewHostKey: true }));
    s.close();
    expect(readFileSync(kh, 'utf8')).toBe(
      `[${bed.host}]:${bed.instances.main.port} ssh-ed25519 ${pubBlob(bed.instances.main.hostKeyPub).toString('base64')}\n`,
    );
    const again = await openSsh(login('main'), bare({ knownHostsFiles: [kh] }));
    expect(again.hostKeys[0]?.verdict?.status).toBe('known');
    again.close();
  });

  it('refuses a changed host key even with accept-new, showing both fingerprints', async () => {
    const kh = join(dir, 'changed_known_hosts');
    // main's name with the jump server's key: exactly what a MITM or a reinstall looks like.
    writeFileSync(kh, `[${bed.host}]:${bed.instances.main.port} ${readFileSync(bed.instances.jump.hostKeyPub, 'utf8').split(/\s+/).slice(0, 2).join(' ')}\n`);
    const err = (await openSsh(login('main'), bare({ knownHostsFiles: [kh], acceptNewHostKey: true })).catch((e: unknown) => e)) as ConnectionError;
    expect(err.kind).toBe('host-key');
    expect(err.message).toMatch(/HAS CHANGED/);
    expect(err.message).toContain(fingerprint(pubBlob(bed.instances.main.hostKeyPub)));
    expect(err.message).toContain(fingerprint(pubBlob(bed.instances.jump.hostKeyPub)));
  });

  it('verifies against hashed known_hosts entries', async () => {
    const s = await openSsh(login('main'), bare({ knownHostsFiles: [bed.knownHostsHashed] }));
    expect(s.hostKeys[0]?.verdict?.status).toBe('known');
    s.close();
  });

  it('uses an encrypted key through the passphrase callback; without one it says why it failed', async () => {
    const asked: string[] = [];
    const s = await openSsh(
      login('main'),
      bare({ knownHostsFiles: [bed.knownHosts], identityFiles: [bed.clientKeyEncrypted], passphrase: async (f) => (asked.push(f), bed.clientKeyPassphrase) }),
    );
    expect(asked).toEqual([bed.clientKeyEncrypted]);
    s.close();
    const err = (await openSsh(login('main'), bare({ knownHostsFiles: [bed.knownHosts], identityFiles: [bed.clientKeyEncrypted] })).catch(
      (e: unknown) => e,
    )) as ConnectionError;
    expect(err.kind).toBe('auth');
    expect(err.message).toMatch(/encrypted; no passphrase callback/);
  });

  it('retries a wrong passphrase', async () => {
    const answers = ['wrong', bed.clientKeyPassphrase];
    const s = await openSsh(
      login('main'),
      bare({ knownHostsFiles: [bed.knownHosts], identityFiles: [bed.clientKeyEncrypted], passphrase: async () => answers.shift() }),
    );
    expect(answers).toEqual([]);
    s.close();
  });

  it('authenticates with keys held by ssh-agent (SSH_AUTH_SOCK), honouring IdentitiesOnly', async () => {
    const sock = join(dir, 'agent.sock');
    const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 50 && spawnSync('ssh-add', ['-l'], { env: { SSH_AUTH_SOCK: sock } }).status === 2; i++) await new Promise((r) => setTimeout(r, 50));
      const key = join(dir, 'k');
      copyFileSync(bed.clientKey, key);
      expect(spawnSync('ssh-add', [key], { env: { SSH_AUTH_SOCK: sock }, stdio: 'ignore' }).status).toBe(0);
      // No key files at all: only the agent can authenticate.
      const s = await openSsh(login('main'), { configFiles: [], identityFiles: [], knownHostsFiles: [bed.knownHosts], agent: sock });
      const r = await execScript(s.client, 'id -un');
      expect(r.stdout.trim().split('\n').at(-1)).toBe(bed.users.main);
      s.close();
      // IdentitiesOnly with an IdentityFile that is not in the agent: the agent's key is not offered.
      const cfg = join(dir, 'cfg');
      writeFileSync(cfg, `Host *\n  IdentitiesOnly yes\n  IdentityFile ${bed.clientKeyEncrypted}\n  UserKnownHostsFile ${bed.knownHosts}\n`);
      const err = (await openSsh(login('main'), { configFiles: [cfg], agent: sock }).catch((e: unknown) => e)) as ConnectionError;
      expect(err.kind).toBe('auth');
    } finally {
      agent.kill();
    }
  });

  it('a stale SSH_AUTH_SOCK (nothing listening) does not stop key-file auth', async () => {
    const stale = join(dir, 'stale-agent.sock');
    writeFileSync(stale, '');
    const s = await openSsh(login('main'), bare({ knownHostsFiles: [bed.knownHosts], agent: stale }));
    expect(s.closed).toBe(false);
    s.close();
  });
});
