/**
 * The code each fs thread runs (see fs-threads.ts), as source text: the agent
 * is one bundled file, so the thread is started with `eval` rather than from
 * a module path, and text survives bundling, minifying and the test
 * runner's transforms unchanged. It is plain CommonJS and deliberately
 * small: synchronous readdir/stat over a batch of paths, results packed for
 * a cheap trip back. Every decision about what the results mean stays on the
 * main thread.
 *
 * Jobs and answers (one answer per job, in order):
 *
 *   { op: 'readdir', dirs: (string|Uint8Array)[], bytes: boolean[], stat: 0|1|2, fold: boolean }
 *     → { dirs: ({ names: string, types, ...stats } | { raw: Uint8Array[], types, ...stats } | { err })[] }
 *       names joined by NUL (no name contains one); `raw` when asked for bytes
 *       or when a name did not decode as UTF-8 (it held U+FFFD). With `stat`
 *       1 (lstat) or 2 (stat, dangling links as lstat) every entry is also
 *       stat'ed in the same pass: `st`/`errs` as in a stat answer, one slot
 *       per entry (a walk that stats everything saves a second job and the
 *       trip of every path to this thread and back).
 *       `fold` (du, with stat): every entry that is not a directory, has one
 *       link and was stat'ed without error is left out and added into `sum`
 *       = [files, symlinks, other, apparentBytes, allocatedBytes]; the rest
 *       (directories, hard links, errors) come back as entries. A du walk
 *       then sends the event loop one small answer per directory, not a
 *       stat per file.
 *   { op: 'stat', paths, follow, dangling, links }
 *     → { st: Float64Array (STAT_FIELDS per path), errs?: (err|null)[], targets?: (Uint8Array|null)[] }
 *       `dangling`: a stat that fails with ENOENT falls back to lstat (find -L
 *       reports a dangling symlink as the link); `links`: readlink symlinks.
 *   err = [code, message, syscall]
 *
 * types are indexes into FILE_TYPES (protocol/types/fs.ts):
 * file, dir, symlink, block, char, fifo, socket, unknown.
 */
export const FS_THREAD_CODE = String.raw`
'use strict';
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const F = 11;
const S_IFMT = 0o170000, S_IFLNK = 0o120000, S_IFDIR = 0o040000, S_IFREG = 0o100000;
const NOENT = { throwIfNoEntry: false };
const STRINGS = { withFileTypes: true };
const BUFFERS = { withFileTypes: true, encoding: 'buffer' };

function typeOf(d) {
  if (d.isFile()) return 0;
  if (d.isDirectory()) return 1;
  if (d.isSymbolicLink()) return 2;
  if (d.isBlockDevice()) return 3;
  if (d.isCharacterDevice()) return 4;
  if (d.isFIFO()) return 5;
  if (d.isSocket()) return 6;
  return 7;
}

function errOf(e, syscall) {
  return [e && typeof e.code === 'string' ? e.code : 'EIO', e && e.message ? String(e.message) : String(e), syscall];
}

function readOne(dir, bytes, stat, fold) {
  try {
    if (!bytes) {
      const ents = fs.readdirSync(dir, STRINGS);
      const n = ents.length;
      const types = new Uint8Array(n);
      const names = new Array(n);
      let lossy = false;
      for (let i = 0; i < n; i++) {
        const e = ents[i];
        names[i] = e.name;
        types[i] = typeOf(e);
        if (!lossy && e.name.indexOf('\uFFFD') !== -1) lossy = true;
      }
      if (!lossy) {
        const out = { names, types };
        if (stat) statChildren(out, dir, names, stat, fold);
        out.names = out.names.join('\0');
        return out;
      }
    }
    const ents = fs.readdirSync(dir, BUFFERS);
    const n = ents.length;
    const types = new Uint8Array(n);
    const raw = new Array(n);
    for (let i = 0; i < n; i++) {
      raw[i] = ents[i].name;
      types[i] = typeOf(ents[i]);
    }
    const out = { raw, types };
    if (stat) statChildren(out, dir, raw, stat, fold);
    return out;
  } catch (e) {
    return { err: errOf(e, 'opendir') };
  }
}

// Leave out (and sum) what du needs no more of: see 'fold' above. out.names is still an array here.
function foldChildren(out) {
  const st = out.st, errs = out.errs, n = out.types.length;
  const list = out.names !== undefined ? out.names : out.raw;
  let files = 0, symlinks = 0, other = 0, apparent = 0, allocated = 0, k = 0;
  for (let i = 0; i < n; i++) {
    const o = i * F;
    const fmt = st[o] & S_IFMT;
    if ((errs !== null && errs[i] !== null) || fmt === S_IFDIR || st[o + 1] > 1) {
      if (k !== i) {
        list[k] = list[i];
        out.types[k] = out.types[i];
        st.copyWithin(k * F, o, o + F);
        if (errs !== null) errs[k] = errs[i];
      }
      k++;
      continue;
    }
    if (fmt === S_IFREG) files++;
    else if (fmt === S_IFLNK) symlinks++;
    else other++;
    apparent += st[o + 4];
    allocated += st[o + 5] * 512;
  }
  out.sum = [files, symlinks, other, apparent, allocated];
  if (k === n) return;
  list.length = k;
  out.types = out.types.slice(0, k);
  out.st = st.slice(0, k * F);
  if (errs !== null) errs.length = k;
}

const SLASH = Buffer.from('/');

function statChildren(out, dir, names, stat, fold) {
  const n = names.length;
  const paths = new Array(n);
  if (typeof dir === 'string') {
    const prefix = dir.endsWith('/') ? dir : dir + '/';
    for (let i = 0; i < n; i++) paths[i] = typeof names[i] === 'string' ? prefix + names[i] : Buffer.concat([Buffer.from(prefix), names[i]]);
  } else {
    const d = Buffer.from(dir.buffer, dir.byteOffset, dir.byteLength);
    const prefix = d[d.length - 1] === 0x2f ? d : Buffer.concat([d, SLASH]);
    for (let i = 0; i < n; i++) paths[i] = Buffer.concat([prefix, typeof names[i] === 'string' ? Buffer.from(names[i]) : names[i]]);
  }
  const a = statAll({ paths, follow: stat === 2, dangling: stat === 2, links: false });
  out.st = a.st;
  out.errs = a.errs;
  if (fold) foldChildren(out);
}

function put(st, o, s) {
  st[o] = s.mode;
  st[o + 1] = s.nlink;
  st[o + 2] = s.uid;
  st[o + 3] = s.gid;
  st[o + 4] = s.size;
  st[o + 5] = s.blocks;
  st[o + 6] = s.ino;
  st[o + 7] = s.dev;
  st[o + 8] = s.mtimeMs;
  st[o + 9] = s.atimeMs;
  st[o + 10] = s.ctimeMs;
}

function statAll(job) {
  const { paths, follow, dangling, links } = job;
  const n = paths.length;
  const st = new Float64Array(n * F);
  let errs = null;
  let targets = null;
  const fail = (i, e) => {
    if (errs === null) errs = new Array(n).fill(null);
    errs[i] = e;
  };
  for (let i = 0; i < n; i++) {
    const p = paths[i];
    let s;
    let syscall = follow ? 'stat' : 'lstat';
    try {
      s = follow ? fs.statSync(p, NOENT) : fs.lstatSync(p, NOENT);
      if (s === undefined && follow && dangling) {
        syscall = 'lstat';
        s = fs.lstatSync(p, NOENT);
      }
    } catch (e) {
      fail(i, errOf(e, syscall));
      continue;
    }
    if (s === undefined) {
      fail(i, ['ENOENT', '', syscall]);
      continue;
    }
    put(st, i * F, s);
    if (links && (s.mode & S_IFMT) === S_IFLNK) {
      try {
        if (targets === null) targets = new Array(n).fill(null);
        targets[i] = fs.readlinkSync(p, 'buffer');
      } catch {
        // gone or unreadable meanwhile: no target, like ls -l
      }
    }
  }
  return { st, errs, targets };
}

// Answers are copied, not transferred: for buffers this small a transfer list costs more than the copy.
parentPort.on('message', (job) => {
  let out;
  try {
    if (job.op === 'readdir') {
      const dirs = new Array(job.dirs.length);
      for (let i = 0; i < dirs.length; i++) dirs[i] = readOne(job.dirs[i], job.bytes[i], job.stat, job.fold === true);
      out = { dirs };
    } else if (job.op === 'stat') {
      out = statAll(job);
    } else {
      out = { fatal: 'unknown op ' + String(job.op) };
    }
  } catch (e) {
    out = { fatal: String((e && e.stack) || e) };
  }
  parentPort.postMessage(out);
});
`;

/** Float64 slots per path in a stat answer, in this order. */
export const STAT_FIELDS = 11;
