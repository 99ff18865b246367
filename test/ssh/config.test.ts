/** ~/.ssh/config resolution: Host patterns, first-wins, ProxyJump chains, IdentitiesOnly, Include, Match, targets. */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expandIncludes, patternListMatches } from '../../client/ssh/config.js';
import { resolveWithTexts } from '../../client/ssh/resolve.js';
import { parseTargetSpec } from '../../client/ssh/target.js';

const CONFIG = `
# site defaults come last, as ssh_config(5) recommends
Host hpc
  HostName login.hpc.example.org
  User alice
  Port 2222
  IdentityFile ~/.ssh/id_hpc
  IdentitiesOnly yes
  ProxyJump bastion

Host bastion
  HostName bastion.example.org
  User bob
  IdentityFile ~/.ssh/id_bastion

Host deep
  HostName deep.internal
  ProxyJump hpc,gateway:2200

Host gpu? !gpu9
  HostName %h.cluster.example.org
  ServerAliveInterval 5
  ServerAliveCountMax 2

Host loop1
  ProxyJump loop2
Host loop2
  ProxyJump loop1

Host nojump
  ProxyJump none

Host *.example.org
  StrictHostKeyChecking accept-new
  ConnectTimeout 7

Host *
  User defaultuser
  IdentityFile ~/.ssh/id_common
  UserKnownHostsFile ~/.ssh/kh1 ~/.ssh/kh2
`;

const home = homedir();
const r = (t: string, texts = [CONFIG]) => resolveWithTexts(t, texts);

describe('patternListMatches', () => {
  it('matches * and ? (exactly one char), case-insensitively, with negation vetoing', () => {
    expect(patternListMatches(['gpu?'], 'gpu1')).toBe(true);
    expect(patternListMatches(['gpu?'], 'gpu')).toBe(false);
    expect(patternListMatches(['gpu?'], 'gpu10')).toBe(false);
    expect(patternListMatches(['*.ORG'], 'x.example.org')).toBe(true);
    expect(patternListMatches(['gpu?', '!gpu9'], 'gpu9')).toBe(false);
    expect(patternListMatches(['a,b'], 'b')).toBe(true);
    expect(patternListMatches(['!x'], 'y')).toBe(false); // negation alone never matches
  });
});

describe('resolve', () => {
  it('applies the first value found, in file order; IdentityFile accumulates', () => {
    const h = r('hpc');
    expect(h).toMatchObject({ hostname: 'login.hpc.example.org', user: 'alice', port: 2222, identitiesOnly: true });
    expect(h.identityFiles).toEqual([join(home, '.ssh/id_hpc'), join(home, '.ssh/id_common')]);
    expect(h.userKnownHostsFiles).toEqual([join(home, '.ssh/kh1'), join(home, '.ssh/kh2')]);
  });

  it('lets user@ and :port in the target win over the config', () => {
    expect(r('carol@hpc:22')).toMatchObject({ user: 'carol', port: 22, hostname: 'login.hpc.example.org' });
  });

  it('matches Host against the name as typed, not HostName', () => {
    // hpc's HostName ends in .example.org but its Host line is "hpc": *.example.org does not apply.
    expect(r('hpc').strictHostKeyChecking).toBe('ask');
    expect(r('x.example.org')).toMatchObject({ strictHostKeyChecking: 'accept-new', connectTimeoutMs: 7000, user: 'defaultuser' });
  });

  it('expands %h in HostName and honours negated patterns', () => {
    expect(r('gpu3')).toMatchObject({ hostname: 'gpu3.cluster.example.org', serverAliveIntervalMs: 5000, serverAliveCountMax: 2 });
    expect(r('gpu9').hostname).toBe('gpu9');
  });

  it('resolves a ProxyJump hop with its own config', () => {
    const h = r('hpc');
    expect(h.jumps.map((j) => [j.hostname, j.user, j.port])).toEqual([['bastion.example.org', 'bob', 22]]);
    expect(h.jumps[0]!.identityFiles[0]).toBe(join(home, '.ssh/id_bastion'));
  });

  it('builds chains: the first hop keeps its own ProxyJump, later hops do not', () => {
    const h = r('deep');
    expect(h.jumps.map((j) => `${j.user}@${j.hostname}:${j.port}`)).toEqual([
      'bob@bastion.example.org:22',
      'alice@login.hpc.example.org:2222',
      'defaultuser@gateway:2200',
    ]);
    expect(h.jumps.every((j) => j.jumps.length === 0)).toBe(true);
  });

  it('reports a ProxyJump loop instead of recursing forever', () => {
    expect(() => r('loop1')).toThrow(/deeper than 8 hops/);
  });

  it('ProxyJump none means direct; ssh:// URIs are accepted as hops', () => {
    expect(r('nojump').jumps).toEqual([]);
    const h = resolveWithTexts('t', ['Host t\n ProxyJump ssh://u@[2001:db8::1]:2022,v@w']);
    expect(h.jumps.map((j) => [j.user, j.hostname, j.port])).toEqual([
      ['u', '2001:db8::1', 2022],
      ['v', 'w', 22],
    ]);
  });

  it('defaults: local user, port 22, the standard identity files, strict checking ask', () => {
    const h = resolveWithTexts('plain.host', []);
    expect(h).toMatchObject({ user: userInfo().username, port: 22, strictHostKeyChecking: 'ask', identitiesOnly: false });
    expect(h.identityFiles).toContain(join(home, '.ssh/id_ed25519'));
  });

  it('supports Match host/originalhost/user/final, and never runs Match exec', () => {
    const marker = join(tmpdir(), `clx-match-exec-${process.pid}`);
    const cfg = `Match exec "touch ${marker}"\n  User fromexec\nMatch originalhost m1 user nobody\n  Port 1\nMatch originalhost m1\n  Port 2\nMatch final host real.m2\n  User fin\nHost m2\n  HostName real.m2\n`;
    expect(resolveWithTexts('m1', [cfg]).port).toBe(2);
    expect(resolveWithTexts('nobody@m1', [cfg]).port).toBe(1);
    expect(resolveWithTexts('m2', [cfg]).user).toBe('fin');
    expect(existsSync(marker)).toBe(false);
  });

  it('expands Include in place (globs, relative to ~/.ssh), keeping the enclosing Host block', () => {
    const dir = mkdtempSync(join(tmpdir(), 'clx-inc-'));
    mkdirSync(join(dir, 'conf.d'));
    writeFileSync(join(dir, 'conf.d', 'a.conf'), 'Host inc\n  HostName inc.example\n');
    writeFileSync(join(dir, 'conf.d', 'b.conf'), 'Host inc2\n  Port 2200\n');
    writeFileSync(join(dir, 'inner'), '  User inner\n');
    const text = expandIncludes(`Include ${dir}/conf.d/*.conf\nHost blk\n  Include ${dir}/inner\n  Port 77\n`, dir);
    expect(resolveWithTexts('inc', [text]).hostname).toBe('inc.example');
    expect(resolveWithTexts('inc2', [text]).port).toBe(2200);
    expect(resolveWithTexts('blk', [text])).toMatchObject({ user: 'inner', port: 77 });
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads IdentityAgent none and BatchMode', () => {
    expect(resolveWithTexts('b', ['Host b\n IdentityAgent none\n BatchMode yes'])).toMatchObject({ identityAgent: null, batchMode: true });
  });
});

describe('parseTargetSpec', () => {
  it.each([
    ['alias', { host: 'alias' }],
    ['me@host', { user: 'me', host: 'host' }],
    ['me@host:2222', { user: 'me', host: 'host', port: 2222 }],
    ['host:22', { host: 'host', port: 22 }],
    ['[::1]:2200', { host: '::1', port: 2200 }],
    ['fe80::1', { host: 'fe80::1' }],
    ['ssh://a@b:3', { user: 'a', host: 'b', port: 3 }],
    ['u@x@host', { user: 'u@x', host: 'host' }],
  ])('%s', (t, want) => expect(parseTargetSpec(t)).toEqual(want));

  it.each(['', 'host:0', 'host:99999', 'host:ab', '@host', 'a b', '[::1'])('rejects %j', (t) => {
    expect(() => parseTargetSpec(t)).toThrow();
  });
});
