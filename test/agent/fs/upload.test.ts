import { createHash } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { EARLY_SYNC_BYTES } from '../../../agent/fs/upload.js';
import { fsUploadAbort, fsUploadChunk, fsUploadCommit, fsUploadOpen } from '../../../protocol/index.js';
import { createDirect } from '../../support/direct.js';
import { removeTree, tempDir } from '../../support/trees.js';
import { rejectsWith } from './helpers.js';

let home: string;
let direct: ReturnType<typeof createDirect>;

const data = Buffer.from(Array.from({ length: 10_000 }, (_, i) => (i * 7) % 256));
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const chunks = (size: number): { offset: number; data: Uint8Array }[] => {
  const out = [];
  for (let o = 0; o < data.length; o += size) out.push({ offset: o, data: new Uint8Array(data.subarray(o, o + size)) });
  return out;
};
const temps = (): string[] => readdirSync(home).filter((n) => n.startsWith('.clx-'));

beforeAll(() => {
  home = tempDir('clx-upload-');
});
beforeEach(() => {
  direct = createDirect({ home });
});
afterAll(() => removeTree(home));
afterEach(() => vi.restoreAllMocks());

/** FileHandle's prototype (the class is not exported), to watch the agent's datasync and sync calls. */
async function fileHandleProto(): Promise<FileHandle> {
  const fh = await open(join(home, '.proto-probe'), 'w');
  await fh.close();
  return Object.getPrototypeOf(fh) as FileHandle;
}

describe('fs.upload.*', () => {
  it('in-order chunks, verified size and sha256, then renamed into place', async () => {
    const { handle } = await direct.call(fsUploadOpen, { path: 'in-order.bin' });
    expect(handle).toMatch(/^[0-9a-f]{32}$/);
    expect(temps()).toHaveLength(1); // the temp file lives beside the target
    for (const c of chunks(3000)) expect(await direct.call(fsUploadChunk, { handle, ...c })).toEqual({ bytes: c.data.byteLength });
    expect(existsSync(join(home, 'in-order.bin'))).toBe(false); // nothing visible before commit
    expect(await direct.call(fsUploadCommit, { handle, size: data.length, sha256: sha(data) })).toEqual({ bytes: data.length, sha256: sha(data) });
    expect(readFileSync(join(home, 'in-order.bin'))).toEqual(data);
    expect(temps()).toEqual([]);
  });

  it('out-of-order and concurrent chunks land at their offsets; the sha256 is computed by re-reading', async () => {
    const { handle } = await direct.call(fsUploadOpen, { path: 'shuffled.bin' });
    const cs = chunks(1000).reverse();
    await Promise.all(cs.map((c) => direct.call(fsUploadChunk, { handle, ...c })));
    const r = await direct.call(fsUploadCommit, { handle, sha256: sha(data) });
    expect(r.sha256).toBe(sha(data));
    expect(readFileSync(join(home, 'shuffled.bin'))).toEqual(data);
  });

  it('a sha256 mismatch fails, deletes the temp file and creates nothing', async () => {
    const { handle } = await direct.call(fsUploadOpen, { path: 'bad-sha.bin' });
    for (const c of chunks(5000)) await direct.call(fsUploadChunk, { handle, ...c });
    const e = await rejectsWith(direct.call(fsUploadCommit, { handle, sha256: '0'.repeat(64) }), 'CONFLICT');
    expect(e.details).toMatchObject({ expected: '0'.repeat(64), actual: sha(data) });
    expect(existsSync(join(home, 'bad-sha.bin'))).toBe(false);
    expect(temps()).toEqual([]);
    await rejectsWith(direct.call(fsUploadChunk, { handle, offset: 0, data: new Uint8Array(1) }), 'NOT_FOUND');
  });

  it('a size mismatch fails the same way', async () => {
    const { handle } = await direct.call(fsUploadOpen, { path: 'short.bin' });
    await direct.call(fsUploadChunk, { handle, offset: 0, data: new Uint8Array(10) });
    await rejectsWith(direct.call(fsUploadCommit, { handle, size: 11 }), 'CONFLICT');
    expect(existsSync(join(home, 'short.bin'))).toBe(false);
    expect(temps()).toEqual([]);
  });

  it('closing the connection aborts its uploads and deletes their temp files', async () => {
    const { handle } = await direct.call(fsUploadOpen, { path: 'orphan.bin' });
    await direct.call(fsUploadChunk, { handle, offset: 0, data: new Uint8Array(100) });
    expect(temps()).toHaveLength(1);
    direct.closeConnection();
    await expect.poll(() => temps()).toEqual([]);
    await rejectsWith(direct.call(fsUploadCommit, { handle }), 'NOT_FOUND');
    expect(existsSync(join(home, 'orphan.bin'))).toBe(false);
  });

  it('abort drops the upload; a second abort says it was not there', async () => {
    const { handle } = await direct.call(fsUploadOpen, { path: 'aborted.bin' });
    expect(await direct.call(fsUploadAbort, { handle })).toEqual({ aborted: true });
    expect(await direct.call(fsUploadAbort, { handle })).toEqual({ aborted: false });
    expect(temps()).toEqual([]);
  });

  it('replaces an existing file keeping its mode, or sets the given mode', async () => {
    writeFileSync(join(home, 'existing'), 'old');
    chmodSync(join(home, 'existing'), 0o751);
    const a = await direct.call(fsUploadOpen, { path: 'existing' });
    await direct.call(fsUploadChunk, { handle: a.handle, offset: 0, data: new Uint8Array([1, 2]) });
    await direct.call(fsUploadCommit, { handle: a.handle });
    expect(statSync(join(home, 'existing')).mode & 0o7777).toBe(0o751);
    const b = await direct.call(fsUploadOpen, { path: 'moded', mode: 0o700, mkdirs: true });
    await direct.call(fsUploadCommit, { handle: b.handle, size: 0 });
    expect(statSync(join(home, 'moded')).mode & 0o7777).toBe(0o700);
    expect(statSync(join(home, 'moded')).size).toBe(0);
  });

  it('unknown handles are NOT_FOUND; a missing parent is ENOENT unless mkdirs', async () => {
    await rejectsWith(direct.call(fsUploadChunk, { handle: 'nope', offset: 0, data: new Uint8Array(1) }), 'NOT_FOUND');
    await rejectsWith(direct.call(fsUploadOpen, { path: 'no/such/dir/file' }), 'ENOENT');
    await rejectsWith(direct.call(fsUploadOpen, { path: '.' }), 'EISDIR');
    const { handle } = await direct.call(fsUploadOpen, { path: 'made/by/mkdirs', mkdirs: true });
    await direct.call(fsUploadAbort, { handle });
  });

  it('rejects bad params with INVALID_PARAMS', async () => {
    await rejectsWith(direct.call(fsUploadChunk, { handle: 'x', offset: -1, data: new Uint8Array(1) }), 'INVALID_PARAMS');
    await rejectsWith(direct.call(fsUploadChunk, { handle: 'x', offset: 0, data: 'text' as never }), 'INVALID_PARAMS');
    await rejectsWith(direct.call(fsUploadCommit, { handle: 'x', sha256: 'ABC' }), 'INVALID_PARAMS');
  });

  describe('early flush', () => {
    const big = Buffer.alloc(EARLY_SYNC_BYTES * 2 + 1000, 7);
    const send = async (handle: string) => {
      const step = 1 << 20;
      for (let o = 0; o < big.length; o += step) await direct.call(fsUploadChunk, { handle, offset: o, data: big.subarray(o, o + step) });
    };

    it('flushes the data while chunks arrive, and still fsyncs at commit', async () => {
      const proto = await fileHandleProto();
      const datasync = vi.spyOn(proto, 'datasync');
      const sync = vi.spyOn(proto, 'sync');
      const { handle } = await direct.call(fsUploadOpen, { path: 'flushed.bin' });
      await send(handle);
      expect(datasync).toHaveBeenCalled(); // before commit
      expect(sync).not.toHaveBeenCalled();
      await direct.call(fsUploadCommit, { handle, size: big.length, sha256: sha(big) });
      expect(sync).toHaveBeenCalledTimes(1);
      expect(readFileSync(join(home, 'flushed.bin')).equals(big)).toBe(true); // (toEqual on 16 MiB exhausts the heap)
    });

    it('a failed early flush fails the commit: no file appears, the temp file is gone', async () => {
      const proto = await fileHandleProto();
      vi.spyOn(proto, 'datasync').mockRejectedValue(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO', errno: -5, syscall: 'fdatasync' }));
      const { handle } = await direct.call(fsUploadOpen, { path: 'eio.bin' });
      await send(handle);
      await rejectsWith(direct.call(fsUploadCommit, { handle, size: big.length, sha256: sha(big) }), 'EIO');
      expect(existsSync(join(home, 'eio.bin'))).toBe(false);
      expect(temps()).toEqual([]);
    });
  });
});
