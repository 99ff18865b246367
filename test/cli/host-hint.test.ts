/** The hint for `clustrix ls mycluster` (a local path that does not exist, named like an ssh host). */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hostHint, sshHostAliases } from '../../client/cli/host-hint.js';
import { RemoteError } from '../../client/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'clx-hosthint-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const enoent = new RemoteError({ code: 'ENOENT', message: 'opendir /x/cluster: no such file or directory' }, 'fs.ls');

describe('host hint', () => {
  const config = join(dir, 'config');
  writeFileSync(
    config,
    [
      'Host cluster login2',
      '  HostName 10.0.0.1',
      'host=gpu-box',
      'Host *.internal !bastion',
      'Host "quoted"',
      'Match host foo',
      '  User x',
      '  # Host commented',
    ].join('\n'),
  );

  it('collects the exact Host names, not patterns, negations or comments', () => {
    expect([...sshHostAliases([config, join(dir, 'missing')])].sort()).toEqual(['cluster', 'gpu-box', 'login2', 'quoted']);
  });

  it('hints only for a missing local bare word that is a host', () => {
    const aliases = () => sshHostAliases([config]);
    expect(hostHint({ host: 'local', path: 'cluster' }, enoent, aliases)).toMatch(/cluster is a host in your ssh config: write cluster: /);
    expect(hostHint({ host: 'local', path: 'other' }, enoent, aliases)).toBe('');
    expect(hostHint({ host: 'local', path: './cluster' }, enoent, aliases)).toBe('');
    expect(hostHint({ host: 'cluster', path: 'cluster' }, enoent, aliases)).toBe('');
    const eacces = new RemoteError({ code: 'EACCES', message: 'denied' }, 'fs.ls');
    expect(hostHint({ host: 'local', path: 'cluster' }, eacces, aliases)).toBe('');
  });
});
