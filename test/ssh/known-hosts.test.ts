/** known_hosts parsing and lookup, and the host key policy built on it. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createHostKeyCheck } from '../../client/ssh/host-key.js';
import { checkHostKey, fingerprint, hostKeyName, knownHostLine, knownKeyAlgorithms, parseKnownHosts } from '../../client/ssh/known-hosts.js';
import { resolveWithTexts } from '../../client/ssh/resolve.js';

/** A syntactically valid SSH public key blob of `type` (content is arbitrary for lookup purposes). */
function blob(type: string, fill: number): Buffer {
  const t = Buffer.from(type);
  const body = Buffer.alloc(32, fill);
  const out = Buffer.alloc(4 + t.length + 4 + body.length);
  out.writeUInt32BE(t.length, 0);
  t.copy(out, 4);
  out.writeUInt32BE(body.length, 4 + t.length);
  body.copy(out, 8 + t.length);
  return out;
}
const ED_A = blob('ssh-ed25519', 1);
const ED_B = blob('ssh-ed25519', 2);
const RSA = blob('ssh-rsa', 3);
const line = (hosts: string, k: Buffer, marker = '') =>
  `${marker ? marker + ' ' : ''}${hosts} ${k.subarray(4, 4 + k.readUInt32BE(0)).toString()} ${k.toString('base64')}`;

describe('parseKnownHosts', () => {
  it('reads plain, bracketed-port, hashed and marked lines; skips comments and junk', () => {
    const text = [
      '# comment',
      '',
      line('login.example.org,10.0.0.1', ED_A),
      line('[login.example.org]:2222', ED_B),
      knownHostLine('hashed.example.org', ED_A, true),
      line('*.example.org', RSA, '@cert-authority'),
      line('old.example.org', ED_B, '@revoked'),
      '@bogus x ssh-ed25519 AAAA',
      'truncated-line ssh-ed25519',
      `mismatch ssh-rsa ${ED_A.toString('base64')}`,
    ].join('\n');
    const e = parseKnownHosts(text, 'kh');
    expect(e.map((x) => [x.marker, x.line])).toEqual([
      [null, 3],
      [null, 4],
      [null, 5],
      ['cert-authority', 6],
      ['revoked', 7],
    ]);
  });
});

describe('checkHostKey', () => {
  const entries = parseKnownHosts(
    [
      line('login.example.org,!evil.example.org', ED_A),
      line('[login.example.org]:2222', ED_B),
      line('node?.cluster', ED_A),
      knownHostLine('[hashed.example.org]:2200', ED_A, true),
      line('*.example.org', RSA, '@cert-authority'),
      line('*', ED_B, '@revoked'),
      line('rsaonly.example.org', RSA),
    ].join('\n'),
  );

  it('uses host on port 22 and [host]:port otherwise', () => {
    expect(hostKeyName('Login.Example.org', 22)).toBe('login.example.org');
    expect(hostKeyName('login.example.org', 2222)).toBe('[login.example.org]:2222');
    expect(hostKeyName('x', 2222, 'Alias')).toBe('alias');
  });

  it('accepts the recorded key, including hashed and wildcard entries', () => {
    expect(checkHostKey(entries, 'login.example.org', ED_A).status).toBe('known');
    expect(checkHostKey(entries, '[hashed.example.org]:2200', ED_A).status).toBe('known');
    expect(checkHostKey(entries, 'node1.cluster', ED_A).status).toBe('known');
    expect(checkHostKey(entries, 'node12.cluster', ED_A).status).toBe('unknown'); // ? is exactly one char
  });

  it('reports a changed key of the same type, with the recorded entry', () => {
    const v = checkHostKey(entries, 'login.example.org', blob('ssh-ed25519', 9));
    expect(v.status).toBe('changed');
    expect(v.status === 'changed' && v.expected[0]!.line).toBe(1);
  });

  it('does not confuse ports: the :2222 key is not the :22 key', () => {
    expect(checkHostKey(entries, '[login.example.org]:2222', ED_A).status).toBe('changed');
    expect(checkHostKey(entries, '[login.example.org]:2200', ED_A).status).toBe('unknown');
  });

  it('a negated pattern vetoes the line', () => {
    expect(checkHostKey(entries, 'evil.example.org', ED_A).status).toBe('unknown');
  });

  it('refuses a revoked key for every host', () => {
    expect(checkHostKey(entries, '[login.example.org]:2222', ED_B).status).toBe('revoked');
  });

  it('never treats @cert-authority keys as host keys (no match, no conflict)', () => {
    const v = checkHostKey(entries, 'other.example.org', RSA);
    expect(v).toEqual({ status: 'unknown', certAuthorities: 1 });
  });

  it('calls a key of a new type for a known host "other-type"', () => {
    expect(checkHostKey(entries, 'rsaonly.example.org', ED_A).status).toBe('other-type');
    expect(knownKeyAlgorithms(entries, 'rsaonly.example.org')).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
  });

  it('hashes like ssh-keygen -H (ssh-keygen -F finds our hashed line)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'clx-kh-'));
    const file = join(dir, 'kh');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'k')]);
    const real = readFileSync(join(dir, 'k.pub'), 'utf8');
    const key = Buffer.from(real.split(' ')[1]!, 'base64');
    writeFileSync(file, knownHostLine('[h.example]:2022', key, true) + '\n');
    const found = execFileSync('ssh-keygen', ['-F', '[h.example]:2022', '-f', file], { encoding: 'utf8' });
    expect(found).toContain('Host [h.example]:2022 found');
    expect(fingerprint(key)).toBe(execFileSync('ssh-keygen', ['-l', '-f', join(dir, 'k.pub')], { encoding: 'utf8' }).split(' ')[1]);
  });
});

describe('host key policy', () => {
  const setup = (known: string, cfg = '') => {
    const dir = mkdtempSync(join(tmpdir(), 'clx-hk-'));
    const file = join(dir, 'ssh', 'known_hosts');
    if (known) {
      execFileSync('mkdir', ['-p', join(dir, 'ssh')]);
      writeFileSync(file, known);
    }
    const h = resolveWithTexts('me@login.example.org:2222', [`Host *\n UserKnownHostsFile ${file}\n GlobalKnownHostsFile /dev/null\n${cfg}`]);
    return { file, h };
  };

  it('refuses an unknown key and says which fingerprint it saw', () => {
    const { h } = setup('');
    const c = createHostKeyCheck(h);
    expect(c.verify(ED_A)).toBe(false);
    expect(c.failure?.kind).toBe('host-key');
    expect(c.failure?.message).toContain(fingerprint(ED_A));
  });

  it('accept-new records the key (file 0600) only after commit, then it is known', () => {
    const { file, h } = setup('');
    const c = createHostKeyCheck(h, { acceptNewHostKey: true });
    expect(c.verify(ED_A)).toBe(true);
    c.commit();
    expect(readFileSync(file, 'utf8')).toBe(`[login.example.org]:2222 ssh-ed25519 ${ED_A.toString('base64')}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(createHostKeyCheck(h).verify(ED_A)).toBe(true);
  });

  it('StrictHostKeyChecking accept-new in ssh_config works like the option; HashKnownHosts hashes', () => {
    const { file, h } = setup('', ' StrictHostKeyChecking accept-new\n HashKnownHosts yes\n');
    const c = createHostKeyCheck(h);
    expect(c.verify(ED_A)).toBe(true);
    c.commit();
    expect(readFileSync(file, 'utf8')).toMatch(/^\|1\|/);
  });

  it('always refuses a changed key, even with accept-new, naming both fingerprints', () => {
    const { h } = setup(line('[login.example.org]:2222', ED_A) + '\n');
    const c = createHostKeyCheck(h, { acceptNewHostKey: true });
    expect(c.verify(ED_B)).toBe(false);
    expect(c.failure?.message).toMatch(/HAS CHANGED/);
    expect(c.failure?.message).toContain(fingerprint(ED_B));
    expect(c.failure?.message).toContain(fingerprint(ED_A));
  });
});
