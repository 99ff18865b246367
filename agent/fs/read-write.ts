/**
 * fs.read (streamed byte range) and fs.write (whole file, atomic by default).
 *
 * Atomic write: the data goes to a temp file in the target's directory (same
 * filesystem, so rename is atomic), is fsync'ed, then renamed over the target.
 * A reader sees the old file or the new one, never a partial one, and a crash
 * leaves at worst a `.clx-*.tmp` file beside the target. The existing file's
 * permission bits are kept unless `mode` is given (then exactly `mode`, not
 * masked by the umask, like chmod). A symlink at the target is kept and its
 * target replaced, as `echo > link` would.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, realpath, rename, stat, unlink } from 'node:fs/promises';
import { ProtocolError, fsRead, fsWrite, type ReadSummary } from '../../protocol/index.js';
import type { Registry } from '../registry.js';
import type { FsDeps } from './deps.js';
import { attempt, errnoError, errnoOf, fsError } from './errors.js';
import { joinBytes, joinPath, type FsPath } from './names.js';
import { ioPath, parentOf } from './paths.js';

/** A temp file name in `dir`, short enough for any NAME_MAX whatever the target's name. */
export function tempBeside(target: FsPath, kind = 'tmp'): FsPath {
  const dir = parentOf(target);
  const name = `.clx-${randomBytes(8).toString('hex')}.${kind}`;
  return typeof dir === 'string' ? joinPath(dir, name) : joinBytes(dir, name);
}

/** Where writes to `io` should land: the file itself, or a symlink's resolved target. */
export async function writeTarget(io: FsPath): Promise<{ target: FsPath; mode: number | undefined }> {
  try {
    const lst = await lstat(io);
    if (lst.isDirectory()) throw errnoError('EISDIR', 'open', io);
    if (!lst.isSymbolicLink()) return { target: io, mode: lst.mode & 0o7777 };
    const target = await realpath(io).catch(() => io);
    const st = await stat(target).catch(() => undefined);
    if (st?.isDirectory()) throw errnoError('EISDIR', 'open', io);
    return { target, mode: st ? st.mode & 0o7777 : undefined };
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return { target: io, mode: undefined };
    throw err;
  }
}

async function atomicWrite(io: FsPath, data: Uint8Array, mode: number | undefined): Promise<void> {
  const { target, mode: existing } = await attempt('stat', io, () => writeTarget(io));
  const keep = mode ?? existing;
  const tmp = tempBeside(target);
  // New file without a mode: 0666 minus the umask, as any tool would create it.
  const fh = await attempt('open', tmp, () => open(tmp, 'wx', keep === undefined ? 0o666 : 0o600));
  try {
    await attempt('write', tmp, async () => {
      await fh.writeFile(data);
      if (keep !== undefined) await fh.chmod(keep);
      await fh.sync();
    });
  } catch (err) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fh.close();
  try {
    await rename(tmp, target);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw fsError(err, 'rename', target);
  }
}

export function registerReadWrite(registry: Registry, deps: FsDeps): void {
  registry.stream(fsRead, async (p, ctx): Promise<ReadSummary> => {
    const io = ioPath(p.path, deps.home);
    // O_NONBLOCK: opening a FIFO must not hang a threadpool thread waiting for a writer.
    const fh = await attempt('open', io, () => open(io, constants.O_RDONLY | constants.O_NONBLOCK));
    try {
      const st = await fh.stat();
      if (st.isDirectory()) throw errnoError('EISDIR', 'read', io);
      // Regular files: up to the size at open time (a growing log does not read forever).
      // Others (/proc, devices) report size 0: read to EOF.
      const eof = st.isFile() && st.size > 0 ? st.size : Infinity;
      const end = Math.min(eof, p.length === undefined ? Infinity : p.offset + p.length);
      const chunk = ctx.limits.transferChunkBytes;
      let pos = p.offset;
      let sent = 0;
      while (pos < end) {
        if (ctx.signal.aborted) throw new ProtocolError('CANCELLED', 'fs.read cancelled');
        const want = Math.min(chunk, end - pos);
        const buf = Buffer.allocUnsafe(want);
        const { bytesRead } = await attempt('read', io, () => fh.read(buf, 0, want, pos));
        if (bytesRead === 0) break;
        pos += bytesRead;
        sent += bytesRead;
        await ctx.send(bytesRead === want ? buf : buf.subarray(0, bytesRead));
      }
      return { bytes: sent, size: st.size, mtimeMs: st.mtimeMs };
    } finally {
      await fh.close();
    }
  });

  registry.unary(fsWrite, async (p) => {
    const io = ioPath(p.path, deps.home);
    const data = typeof p.data === 'string' ? Buffer.from(p.data, 'utf8') : p.data;
    if (p.mkdirs) {
      const dir = parentOf(io);
      await attempt('mkdir', dir, () => mkdir(dir, { recursive: true }));
    }
    if (p.append) {
      const fh = await attempt('open', io, () => open(io, 'a', p.mode ?? 0o666));
      try {
        await attempt('write', io, () => fh.writeFile(data));
      } finally {
        await fh.close();
      }
    } else await atomicWrite(io, data, p.mode);
    return { bytes: data.byteLength };
  });
}
