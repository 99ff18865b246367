import { chmodSync, linkSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fsRead, fsWrite } from '../../../protocol/index.js';
import { createDirect } from '../../support/direct.js';
import { bpath, removeTree, tempDir } from '../../support/trees.js';
import { rejectsWith } from './helpers.js';

let home: string;
let direct: ReturnType<typeof createDirect>;

beforeAll(() => {
  home = tempDir('clx-rw-');
  direct = createDirect({ home, limits: { transferChunkBytes: 1000 } });
  writeFileSync(join(home, 'data'), Buffer.from(Array.from({ length: 2500 }, (_, i) => i % 251)));
  mkdirSync(join(home, 'dir'));
});
afterAll(() => removeTree(home));

describe('fs.read', () => {
  it('streams the whole file in chunks of transferChunkBytes', async () => {
    const { chunks, summary } = await direct.collect(fsRead, { path: 'data' });
    expect(chunks.map((c) => c.byteLength)).toEqual([1000, 1000, 500]);
    expect(Buffer.concat(chunks)).toEqual(readFileSync(join(home, 'data')));
    expect(summary).toMatchObject({ bytes: 2500, size: 2500 });
    expect(summary.mtimeMs).toBe(statSync(join(home, 'data')).mtimeMs);
  });

  it('reads a byte range, and nothing past the end', async () => {
    const { chunks, summary } = await direct.collect(fsRead, { path: 'data', offset: 10, length: 1500 });
    expect(Buffer.concat(chunks)).toEqual(readFileSync(join(home, 'data')).subarray(10, 1510));
    expect(summary.bytes).toBe(1500);
    const past = await direct.collect(fsRead, { path: 'data', offset: 5000 });
    expect(past.chunks).toEqual([]);
    const tail = await direct.collect(fsRead, { path: 'data', offset: 2400, length: 1000 });
    expect(tail.summary.bytes).toBe(100);
  });

  it('fails with EISDIR on a directory and ENOENT on a missing file', async () => {
    const e = await rejectsWith(direct.collect(fsRead, { path: 'dir' }), 'EISDIR');
    expect(e.message).toBe(`read ${home}/dir: is a directory`);
    await rejectsWith(direct.collect(fsRead, { path: 'missing' }), 'ENOENT');
  });

  it('rejects a negative offset with INVALID_PARAMS', async () => {
    await rejectsWith(direct.collect(fsRead, { path: 'data', offset: -1 }), 'INVALID_PARAMS');
  });

  it('stops when cancelled', async () => {
    const controller = new AbortController();
    await rejectsWith(direct.collect(fsRead, { path: 'data' }, { controller, send: async () => controller.abort() }), 'CANCELLED');
  });
});

describe('fs.write', () => {
  it('writes bytes or a string and creates the file 0666 minus the umask', async () => {
    expect(await direct.call(fsWrite, { path: 'new.txt', data: 'héllo' })).toEqual({ bytes: 6 });
    expect(readFileSync(join(home, 'new.txt'), 'utf8')).toBe('héllo');
    writeFileSync(join(home, 'reference'), ''); // created 0666 minus the umask by Node
    expect(statSync(join(home, 'new.txt')).mode & 0o777).toBe(statSync(join(home, 'reference')).mode & 0o777);
    await direct.call(fsWrite, { path: 'bytes.bin', data: new Uint8Array([0, 255, 1]) });
    expect([...readFileSync(join(home, 'bytes.bin'))]).toEqual([0, 255, 1]);
  });

  it('replaces a file atomically: a new inode renamed into place, no temp file left, other links keep the old data', async () => {
    const target = join(home, 'atomic');
    writeFileSync(target, 'old contents');
    chmodSync(target, 0o640);
    linkSync(target, join(home, 'atomic-old-link'));
    const before = statSync(target).ino;
    await direct.call(fsWrite, { path: target, data: 'new contents' });
    expect(readFileSync(target, 'utf8')).toBe('new contents');
    expect(statSync(target).ino).not.toBe(before); // rename of a new file, not a rewrite in place
    expect(readFileSync(join(home, 'atomic-old-link'), 'utf8')).toBe('old contents');
    expect(statSync(target).mode & 0o7777).toBe(0o640); // existing mode kept
    expect(readdirSync(home).filter((n) => n.startsWith('.clx-'))).toEqual([]);
  });

  it('a concurrent reader sees the old file or the new one, never a mix or a partial file', async () => {
    const target = join(home, 'race');
    const versions = ['A', 'B', 'C', 'D'].map((c) => c.repeat(256 * 1024));
    writeFileSync(target, versions[0]!);
    let writing = true;
    const seen = new Set<string>();
    const reader = (async () => {
      while (writing) seen.add(await readFile(target, 'utf8'));
    })();
    for (let i = 1; i < 40; i++) await direct.call(fsWrite, { path: target, data: versions[i % versions.length]! });
    writing = false;
    await reader;
    for (const s of seen) expect(versions).toContain(s);
  });

  it('explicit mode is applied exactly, not masked', async () => {
    await direct.call(fsWrite, { path: 'moded', data: 'x', mode: 0o604 });
    expect(statSync(join(home, 'moded')).mode & 0o7777).toBe(0o604);
    await direct.call(fsWrite, { path: 'moded', data: 'y', mode: 0o600 });
    expect(statSync(join(home, 'moded')).mode & 0o7777).toBe(0o600);
  });

  it('writes through a symlink, keeping the link', async () => {
    writeFileSync(join(home, 'real'), 'old');
    symlinkSync('real', join(home, 'alias'));
    await direct.call(fsWrite, { path: 'alias', data: 'via link' });
    expect(readFileSync(join(home, 'real'), 'utf8')).toBe('via link');
    expect(statSync(join(home, 'alias')).isFile()).toBe(true);
  });

  it('mkdirs creates parents; without it a missing parent is ENOENT', async () => {
    await rejectsWith(direct.call(fsWrite, { path: 'a/b/c.txt', data: 'x' }), 'ENOENT');
    await direct.call(fsWrite, { path: 'a/b/c.txt', data: 'x', mkdirs: true });
    expect(readFileSync(join(home, 'a/b/c.txt'), 'utf8')).toBe('x');
  });

  it('append adds to the end', async () => {
    await direct.call(fsWrite, { path: 'log', data: 'one\n', append: true });
    await direct.call(fsWrite, { path: 'log', data: 'two\n', append: true });
    expect(readFileSync(join(home, 'log'), 'utf8')).toBe('one\ntwo\n');
  });

  it('writes to a path given as raw bytes', async () => {
    const name = Buffer.from([0x77, 0xff]);
    await direct.call(fsWrite, { path: new Uint8Array(bpath(home, name)), data: 'raw' });
    expect(readFileSync(bpath(home, name), 'utf8')).toBe('raw');
  });

  it('fails with EISDIR when the target is a directory, leaving no temp file', async () => {
    await rejectsWith(direct.call(fsWrite, { path: 'dir', data: 'x' }), 'EISDIR');
    expect(readdirSync(home).filter((n) => n.startsWith('.clx-'))).toEqual([]);
  });

  it('rejects data of the wrong type with INVALID_PARAMS', async () => {
    await rejectsWith(direct.call(fsWrite, { path: 'x', data: 42 as never }), 'INVALID_PARAMS');
    await rejectsWith(direct.call(fsWrite, { path: 'x', data: 'y', mode: 0o10000 }), 'INVALID_PARAMS');
  });
});
