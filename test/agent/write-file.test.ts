/**
 * cluster.fs.writeFile through a real connection: a file larger than a
 * chunk goes as a pipelined, sha256-checked upload and lands whole; a chunk
 * that fails fails the writeFile (not the process) and aborts the upload.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { registerFsHandlers } from '../../agent/fs/index.js';
import { Connection } from '../../client/connection.js';
import { RemoteError } from '../../client/errors.js';
import { FsApi } from '../../client/fs.js';
import { connectUnix } from '../../client/local.js';
import { fsUploadAbort, fsUploadChunk, fsUploadCommit, fsUploadOpen, ProtocolError } from '../../protocol/index.js';
import { Registry, startTestServer, TOKEN, type TestServer } from '../support/server.js';
import { removeTree, tempDir } from '../support/trees.js';

const CHUNK = 64 * 1024;
const NOSPACE = 'write: no space left on device';
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const data = Buffer.from(Array.from({ length: CHUNK * 20 + 123 }, (_, i) => (i * 131 + 7) % 256));

let t: TestServer | undefined;
let home: string | undefined;
afterEach(async () => {
  await t?.close();
  if (home) removeTree(home);
  t = undefined;
  home = undefined;
});

it('uploads a file of many chunks whole, verified and renamed into place', async () => {
  home = tempDir('clx-writefile-');
  const reg = new Registry();
  registerFsHandlers(reg, { home });
  t = await startTestServer(reg, { transferChunkBytes: CHUNK });
  const fs = new FsApi(await t.connect());
  expect(await fs.writeFile('big.bin', data)).toEqual({ bytes: data.length, sha256: sha(data) });
  expect(readFileSync(join(home, 'big.bin')).equals(data)).toBe(true);
  expect(readdirSync(home)).toEqual(['big.bin']); // no temp file left
});

it('fails with the first failed chunk, even one behind others still running, and aborts the upload', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => void unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  let releaseFirst!: () => void;
  const firstHeld = new Promise<void>((r) => (releaseFirst = r));
  const seen = { aborted: [] as string[], committed: 0 };
  const reg = new Registry()
    .unary(fsUploadOpen, () => ({ handle: 'h' }))
    .unary(fsUploadChunk, async (p) => {
      // Chunk 0 is held until the client has chunk 2's error: the client is waiting on chunk 0 then.
      if (p.offset === 0) await firstHeld;
      if (p.offset === 2 * CHUNK) throw new ProtocolError('ENOSPC', NOSPACE);
      return { bytes: p.data.byteLength };
    })
    .unary(fsUploadCommit, () => (seen.committed++, { bytes: 0, sha256: '' }))
    .unary(fsUploadAbort, (p) => (seen.aborted.push(p.handle), { aborted: true }));
  t = await startTestServer(reg, { transferChunkBytes: CHUNK });
  const sock = await connectUnix(t.socketPath);
  const conn = await Connection.open(sock, { token: TOKEN, timeoutMs: 5000 });
  // The read that completes chunk 2's error frame (its message is the frame's last field): once the
  // client has handled it (and a rejection nobody awaits would have been reported), chunk 0 may finish.
  sock.on('data', (d: Buffer) => void (d.includes(NOSPACE) && setImmediate(releaseFirst)));
  try {
    const err = await new FsApi(conn).writeFile('x.bin', data).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RemoteError);
    expect((err as RemoteError).code).toBe('ENOSPC');
    expect(seen).toEqual({ aborted: ['h'], committed: 0 });
    expect(unhandled).toEqual([]);
  } finally {
    process.off('unhandledRejection', onUnhandled);
    await conn.close();
  }
});
