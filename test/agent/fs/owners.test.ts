import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Owners, parseIdFile } from '../../../agent/fs/owners.js';
import { removeTree, tempDir } from '../../support/trees.js';

let dir: string;
beforeAll(() => {
  dir = tempDir('clx-owners-');
  writeFileSync(join(dir, 'passwd'), '# comment\nalice:x:1000:1000::/home/alice:/bin/bash\nbob:x:1001:1001::/:/bin/sh\nalias:x:1000:1000::/:/bin/sh\n+ldap\n');
  writeFileSync(join(dir, 'group'), 'staff:x:50:\nusers:x:100:alice,bob\n');
});
afterAll(() => removeTree(dir));

describe('Owners', () => {
  it('parses passwd/group lines; the first name of an id wins, like getpwuid', () => {
    expect([...parseIdFile('a:x:1:1::/:/bin/sh\nb:x:1:1::/:/bin/sh\nbad line\nc:x:notanumber:\n')]).toEqual([['a', 1]]);
  });

  it('resolves from the files, caches, and fills info objects synchronously once cached', async () => {
    const o = new Owners({ passwdFile: join(dir, 'passwd'), groupFile: join(dir, 'group'), getent: false });
    expect(o.userCached(1000)).toBeUndefined();
    expect(await o.user(1000)).toBe('alice');
    expect(await o.group(100)).toBe('users');
    expect(o.userCached(1000)).toBe('alice');
    const info: { uid: number; gid: number; owner?: string; group?: string } = { uid: 1001, gid: 50 };
    await o.fill(info);
    expect(info).toEqual({ uid: 1001, gid: 50, owner: 'bob', group: 'staff' });
    const again: typeof info = { uid: 1001, gid: 50 };
    expect(o.fill(again)).toBeUndefined(); // all cached: no promise
    expect(again.owner).toBe('bob');
  });

  it('caches misses as unknown (no name, no repeated lookups)', async () => {
    const o = new Owners({ passwdFile: join(dir, 'passwd'), groupFile: join(dir, 'group'), getent: false });
    expect(await o.user(424242)).toBeUndefined();
    expect(o.userCached(424242)).toBeNull();
    const info: { uid: number; owner?: string } = { uid: 424242 };
    expect(o.fill(info)).toBeUndefined();
    expect(info.owner).toBeUndefined();
  });

  it('falls back to getent for ids missing from the files', async () => {
    const o = new Owners({ passwdFile: join(dir, 'missing-passwd'), groupFile: join(dir, 'missing-group') });
    expect(await o.user(0)).toBe('root');
    expect(await o.group(0)).toBe('root');
    expect(await o.user(987_654_321)).toBeUndefined();
  });
});
