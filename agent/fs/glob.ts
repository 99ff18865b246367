/**
 * fs.glob: bash pathname expansion with `globstar` and `nullglob`.
 *
 * - Each `/`-separated segment is an fnmatch pattern matched against names in
 *   one directory; a segment without glob characters is appended as is (no
 *   listing), and checked with lstat only when it is the last one.
 * - Dotfiles: `*`, `?` and `[...]` do not match a leading `.` unless the
 *   segment starts with a literal `.` or `dot: true`; `.` and `..` never match.
 * - `**` (a whole segment) matches zero or more directories: `a/**` yields
 *   `a/` and everything below; `**\/x` finds x at any depth. Like bash it does
 *   not descend into symlinks to directories (but lists them).
 * - A trailing `/` keeps directories only (symlinks to directories too) and
 *   prints them with the slash.
 * - A pattern that matches nothing yields nothing; unlike bash a magic-free
 *   pattern is returned only if it exists.
 * - Results stream in name order (C locale) per directory; unreadable
 *   directories are skipped silently like bash, and counted in `errors`.
 */
import { lstat, stat } from 'node:fs/promises';
import { FindBatchWriter, ProtocolError, fsGlob, type FileType, type FindEntry, type WalkSummary } from '../../protocol/index.js';
import { StreamBatcher } from '../batcher.js';
import type { Registry } from '../registry.js';
import type { FsDeps } from './deps.js';
import { readEntries, type NamedEntry } from './dirents.js';
import { typeOfMode } from './info.js';
import { compileFnmatch, hasMagic, startsWithLiteralDot, unescapeGlob, type Matcher } from './match.js';
import { joinBytes, joinPath, type FsPath } from './names.js';
import { resolvePath } from './paths.js';

interface Place {
  io: FsPath;
  /** Printed path ('' for the cwd itself). */
  shown: string;
  raw: Buffer | undefined;
  depth: number;
}

type Segment = { kind: 'globstar' } | { kind: 'literal'; name: string } | { kind: 'magic'; match: Matcher; dotOk: boolean };

function child(at: Place, e: NamedEntry): Place {
  const shown = at.shown === '' ? e.name : joinPath(at.shown, e.name);
  let raw: Buffer | undefined;
  if (at.raw !== undefined || e.raw !== undefined) {
    const nameBytes = e.raw ?? Buffer.from(e.name);
    raw = at.shown === '' ? nameBytes : joinBytes(at.raw ?? at.shown, nameBytes);
  }
  return { io: e.io, shown, raw, depth: at.depth + 1 };
}

export function registerGlob(registry: Registry, deps: FsDeps): void {
  registry.stream(fsGlob, async (p, ctx): Promise<WalkSummary> => {
    const started = Date.now();
    const deadline = started + ctx.limits.walkTimeLimitMs;
    const absolute = p.pattern.startsWith('/');
    const dirOnly = p.pattern.endsWith('/');
    const segments: Segment[] = p.pattern
      .split('/')
      .filter((s, i, all) => s !== '' && !(s === '**' && all[i - 1] === '**')) // bash: `**/**` is `**`
      .map((s) => {
        if (s === '**') return { kind: 'globstar' };
        if (!hasMagic(s)) return { kind: 'literal', name: unescapeGlob(s) };
        return { kind: 'magic', match: compileFnmatch(s), dotOk: p.dot || startsWithLiteralDot(s) };
      });
    const base: Place = absolute
      ? { io: '/', shown: '/', raw: undefined, depth: 0 }
      : { io: p.cwd === undefined ? deps.home : resolvePath(p.cwd, deps.home).io, shown: '', raw: undefined, depth: 0 };
    const out = new FindBatchWriter();
    const batcher = new StreamBatcher(ctx, out);
    const limit = p.limit;
    let matched = 0;
    let visited = 0;
    let errors = 0;
    let truncated = false;
    const STOP = Symbol('stop');

    const check = (): void => {
      if (ctx.signal.aborted) throw new ProtocolError('CANCELLED', 'fs.glob cancelled');
      if (Date.now() > deadline) throw new ProtocolError('TIMEOUT', `fs.glob: time limit of ${ctx.limits.walkTimeLimitMs} ms reached`);
    };

    const list = async (at: Place): Promise<NamedEntry[]> => {
      check();
      try {
        const ents = await readEntries(at.io);
        visited += ents.length;
        return ents;
      } catch {
        errors++;
        return [];
      }
    };

    /** Is `at` a directory, following symlinks (for a trailing `/`)? */
    const isDir = async (io: FsPath, type: FileType): Promise<boolean> => {
      if (type === 'dir') return true;
      if (type !== 'symlink' && type !== 'unknown') return false;
      return stat(io).then(
        (st) => st.isDirectory(),
        () => false,
      );
    };

    const emit = async (at: Place, type: FileType, slash: boolean): Promise<void> => {
      if (dirOnly && !(await isDir(at.io, type))) return;
      if (limit !== undefined && matched >= limit) {
        truncated = true;
        throw STOP;
      }
      matched++;
      const withSlash = (dirOnly || slash) && !at.shown.endsWith('/');
      const entry: FindEntry = { path: withSlash ? `${at.shown}/` : at.shown, type, depth: at.depth };
      if (at.raw) entry.raw = withSlash ? Buffer.concat([at.raw, Buffer.from('/')]) : at.raw;
      out.addEntry(entry);
      const wait = batcher.added();
      if (wait) await wait;
    };

    /** Everything below `at` (for a final `**`), not entering symlinks or hidden dirs. */
    const everything = async (at: Place): Promise<void> => {
      for (const e of await list(at)) {
        if (e.name.startsWith('.') && !p.dot) continue;
        const c = child(at, e);
        await emit(c, e.type, false);
        if (e.type === 'dir') await everything(c);
      }
    };

    const expand = async (at: Place, i: number): Promise<void> => {
      const seg = segments[i];
      const last = i === segments.length - 1;
      if (seg === undefined) {
        // Only for a pattern of slashes alone ("/"): the root itself.
        const st = await lstat(at.io).catch(() => undefined);
        if (st) await emit(at, typeOfMode(st.mode), false);
        return;
      }
      if (seg.kind === 'literal') {
        const io = typeof at.io === 'string' ? joinPath(at.io, seg.name) : joinBytes(at.io, seg.name);
        const next: Place = {
          io,
          shown: at.shown === '' ? seg.name : joinPath(at.shown, seg.name),
          raw: at.raw && joinBytes(at.raw, seg.name),
          depth: at.depth + 1,
        };
        if (!last) return expand(next, i + 1);
        check();
        const st = await lstat(io).catch(() => undefined);
        if (st) await emit(next, typeOfMode(st.mode), false);
        return;
      }
      if (seg.kind === 'globstar') {
        if (last) {
          // Zero directories: the directory itself, with a slash (bash: `a/**` gives `a/`).
          if (at.shown !== '') {
            const ok = await isDir(at.io, 'unknown');
            if (!ok) return;
            await emit(at, 'dir', true);
          }
          return everything(at);
        }
        await expand(at, i + 1);
        for (const e of await list(at)) {
          if (e.type !== 'dir' || (e.name.startsWith('.') && !p.dot)) continue;
          await expand(child(at, e), i);
        }
        return;
      }
      for (const e of await list(at)) {
        if (e.name.startsWith('.') && !seg.dotOk) continue;
        if (!seg.match(e.name)) continue;
        const c = child(at, e);
        if (last) await emit(c, e.type, false);
        else if (e.type === 'dir' || e.type === 'symlink' || e.type === 'unknown') await expand(c, i + 1);
      }
    };

    try {
      await expand(base, 0);
      await batcher.flush();
    } catch (err) {
      if (err !== STOP) {
        batcher.dispose();
        throw err;
      }
      await batcher.flush();
    }
    return { matched, visited, errors, truncated, elapsedMs: Date.now() - started };
  });
}
