/**
 * fs.ls: one directory, every entry with its lstat in the same round trip.
 *
 * - The directory is read with opendir in slices, so a 100k-entry directory
 *   streams: the first batch leaves before the last name is read.
 * - Names are read as bytes and decoded strictly per entry (a stream gives no
 *   second chance to re-read one name as bytes).
 * - With stat, up to LS_STAT_CONCURRENCY lstat calls are in flight; entries
 *   go out in completion order. An entry that fails lstat (removed meanwhile)
 *   is sent with `error` and the listing goes on. Symlinks carry their target.
 * - Order: directory order, not sorted (the client sorts; sorting here would
 *   mean holding the whole directory before sending anything).
 * - ls of something that is not a directory fails with ENOTDIR (and of a
 *   symlink to a directory lists the directory, like `ls link`): `ls -l file`
 *   is fs.lstat, which the CLI calls instead.
 */
import fs from 'node:fs';
import { opendir } from 'node:fs/promises';
import { ProtocolError, fsLs, type DirEntry, type LsSummary } from '../../protocol/index.js';
import { Batcher } from '../batcher.js';
import type { Registry } from '../registry.js';
import type { FsDeps } from './deps.js';
import { fsError, fsWireError } from './errors.js';
import { assignStat, typeOfDirent, typeOfMode } from './info.js';
import { joinBytes, nameFromBytes, type FsPath } from './names.js';
import type { Owners } from './owners.js';
import { resolvePath } from './paths.js';

/** lstat calls in flight per listing. */
export const LS_STAT_CONCURRENCY = 32;
/** Names opendir reads per system call batch. */
const OPENDIR_BUFFER = 1024;

export function registerLs(registry: Registry, deps: FsDeps): void {
  registry.stream(fsLs, async (p, ctx): Promise<LsSummary> => {
    const { io } = resolvePath(p.path, deps.home);
    let dir: AsyncIterable<RawDirent>;
    try {
      dir = (await opendir(io, { encoding: 'buffer', bufferSize: OPENDIR_BUFFER } as unknown as { bufferSize: number })) as unknown as AsyncIterable<RawDirent>;
    } catch (err) {
      throw fsError(err, 'opendir', io);
    }
    const batcher = new Batcher<DirEntry>(ctx);
    const stats = p.stat ? new StatPipeline(batcher, p.names ? deps.owners : undefined) : undefined;
    let count = 0;
    try {
      for await (const d of dir) {
        if (ctx.signal.aborted) throw new ProtocolError('CANCELLED', 'fs.ls cancelled');
        const { name, raw } = nameFromBytes(d.name);
        const entry: DirEntry = { name, type: typeOfDirent(d) };
        if (raw) entry.raw = raw;
        count++;
        if (stats) {
          const eio = typeof io === 'string' && !raw ? `${io.endsWith('/') ? io : `${io}/`}${name}` : joinBytes(io, d.name);
          const wait = stats.add(entry, eio);
          if (wait) await wait;
        } else {
          const wait = batcher.push(entry);
          if (wait) await wait;
        }
      }
      if (stats) await stats.drain();
      await batcher.flush();
    } catch (err) {
      // Let lstat calls still running finish first, so none pushes into a dropped batch.
      await stats?.settle();
      batcher.dispose();
      throw fsError(err, 'readdir', io);
    }
    return { count };
  });
}

type RawDirent = { name: Buffer } & Parameters<typeof typeOfDirent>[0];

/**
 * lstat (and readlink, and owner names) for a stream of entries, at most
 * LS_STAT_CONCURRENCY calls in flight, with the callback API: a 100k-entry
 * listing is 100k completions and promise-per-entry plumbing costs as much as
 * the system calls. `add` returns a promise only when the reader should wait
 * (too many entries queued, or the batcher is waiting for window credit).
 */
class StatPipeline {
  readonly #queue: { entry: DirEntry; io: FsPath }[] = [];
  #head = 0;
  #inFlight = 0;
  #blocked: Promise<void> | null = null;
  #wake: (() => void) | null = null;
  #failure: unknown = null;
  readonly #batcher: Batcher<DirEntry>;
  readonly #owners: Owners | undefined;

  constructor(batcher: Batcher<DirEntry>, owners: Owners | undefined) {
    this.#batcher = batcher;
    this.#owners = owners;
  }

  add(entry: DirEntry, io: FsPath): Promise<void> | undefined {
    if (this.#failure) throw this.#failure;
    this.#queue.push({ entry, io });
    this.#pump();
    if (this.#blocked || this.#queue.length - this.#head >= LS_STAT_CONCURRENCY * 4) return this.#waitForRoom();
    return undefined;
  }

  /** Wait until every queued entry is done. */
  async drain(): Promise<void> {
    while (this.#inFlight > 0 || this.#head < this.#queue.length || this.#blocked) await this.#waitForRoom();
    if (this.#failure) throw this.#failure;
  }

  /** After a failure: wait for calls in flight, drop the rest. */
  async settle(): Promise<void> {
    this.#queue.length = this.#head = 0;
    while (this.#inFlight > 0) await this.#waitForRoom();
  }

  #waitForRoom(): Promise<void> {
    return new Promise((resolve) => {
      const prev = this.#wake;
      this.#wake = () => {
        prev?.();
        resolve();
      };
    });
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  #pump(): void {
    while (this.#inFlight < LS_STAT_CONCURRENCY && this.#head < this.#queue.length && !this.#blocked) {
      const job = this.#queue[this.#head++]!;
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue.splice(0, this.#head);
        this.#head = 0;
      }
      this.#inFlight++;
      this.#stat(job.entry, job.io);
    }
    if (this.#queue.length - this.#head < LS_STAT_CONCURRENCY * 2 || this.#inFlight === 0) this.#notify();
  }

  #stat(entry: DirEntry, io: FsPath): void {
    fs.lstat(io, (err, st) => {
      if (err) {
        entry.error = fsWireError(err, 'lstat', io);
        return this.#done(entry);
      }
      entry.type = typeOfMode(st.mode);
      assignStat(entry, st);
      if (entry.type !== 'symlink') return this.#names(entry);
      fs.readlink(io, { encoding: 'buffer' }, (err2, target) => {
        if (!err2) {
          const t = nameFromBytes(target);
          entry.target = t.name;
          if (t.raw) entry.targetRaw = t.raw;
        }
        this.#names(entry);
      });
    });
  }

  #names(entry: DirEntry): void {
    const wait = this.#owners?.fill(entry);
    if (wait)
      wait.then(
        () => this.#done(entry),
        (err: unknown) => this.#fail(err),
      );
    else this.#done(entry);
  }

  #done(entry: DirEntry): void {
    this.#inFlight--;
    let wait: Promise<void> | undefined;
    try {
      wait = this.#batcher.push(entry);
    } catch (err) {
      return this.#fail(err);
    }
    if (wait && this.#blocked) wait.catch((err: unknown) => this.#fail(err));
    else if (wait) {
      const blocked: Promise<void> = wait.then(
        () => {
          if (this.#blocked === blocked) this.#blocked = null;
          this.#pump();
        },
        (err: unknown) => {
          if (this.#blocked === blocked) this.#blocked = null;
          this.#fail(err);
        },
      );
      this.#blocked = blocked;
    }
    this.#pump();
  }

  #fail(err: unknown): void {
    this.#failure ??= err;
    this.#queue.length = this.#head = 0;
    this.#notify();
  }
}
