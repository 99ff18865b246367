/**
 * Generators of test trees in temp directories: tricky names, symlinks of
 * every kind, sparse files, hard links, huge directories, unreadable
 * directories, and a generic N-entry tree for benches.
 *
 * Everything is deterministic (same inputs, same tree) and synchronous: these
 * run in test setup, never in the agent. Paths with invalid UTF-8 are made
 * with Buffer paths.
 */
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  renameSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh world-traversable temp dir (0755, so an unprivileged user can walk it too). */
export function tempDir(prefix = 'clx-fs-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return dir;
}

/** Remove a tree made by these helpers, restoring permissions first so nothing is left behind. */
export function removeTree(dir: string): void {
  if (!existsSync(dir)) return;
  try {
    execFileSync('chmod', ['-R', 'u+rwx', '--', dir], { stdio: 'ignore' });
  } catch {
    // best effort: rm below reports what matters
  }
  rmSync(dir, { recursive: true, force: true });
}

/** Join a Buffer or string directory and a Buffer or string name into a Buffer path. */
export function bpath(dir: string | Buffer, ...names: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [typeof dir === 'string' ? Buffer.from(dir) : dir];
  for (const n of names) parts.push(Buffer.from('/'), typeof n === 'string' ? Buffer.from(n) : n);
  return Buffer.concat(parts);
}

/** A fixed mtime (whole seconds) so `find -newer` comparisons are exact. */
export const BASE_MTIME_S = 1_700_000_000;

/** Names that break naive tools. All valid UTF-8; see INVALID_NAMES for raw bytes. */
export const TRICKY_NAMES: readonly string[] = [
  'with space',
  ' leading space',
  'trailing space ',
  'new\nline',
  'tab\there',
  "single'quote",
  'double"quote',
  'back\\slash',
  'star*',
  'question?',
  '[brackets]',
  '[!neg]',
  '-leading-dash',
  '--double-dash',
  '.hidden',
  '..double-dot-prefix',
  'ünïcödé',
  '日本語',
  'emoji-😀',
  'U+FFFD-\uFFFD-literal',
  '\uFEFFbom-prefixed',
  'a'.repeat(255),
  'é'.repeat(127), // 254 bytes
  'semi;colon',
  'dollar$HOME',
  'back`tick`',
  'pipe|amp&',
  'paren(s)',
  'brace{a,b}',
  'percent%s',
  'CamelCase',
  'UPPER.TXT',
  'lower.txt',
];

/** Names that are not valid UTF-8 (exact bytes). */
export const INVALID_NAMES: readonly Buffer[] = [
  Buffer.from([0x66, 0x6f, 0xff, 0x6f]), // fo\xffo
  Buffer.from([0xc3, 0x28]), // bad 2-byte sequence
  Buffer.from([0x80]), // lone continuation byte
  Buffer.from([0xed, 0xa0, 0x80, 0x2e, 0x74, 0x78, 0x74]), // encoded surrogate + .txt
  Buffer.concat([Buffer.from('latin1-'), Buffer.from([0xe9, 0x74, 0xe9])]), // latin-1 "été"
];

export interface TrickyTree {
  root: string;
  /** Directory containing the invalid-UTF-8 names (a file each, and one directory). */
  invalidDir: string;
}

/**
 * A tree with every awkward name as a file (some with content), a few as
 * directories with children, invalid UTF-8 names (files and a directory with
 * a child), and symlinks: relative, absolute, broken, to a directory, and a
 * two-link loop (a → b → a). No directory cycle (see makeLoopTree) and nothing
 * unreadable (see makeUnreadableTree), so every tool walks it without errors.
 */
export function makeTrickyTree(root: string): TrickyTree {
  mkdirSync(root, { recursive: true });
  const files = join(root, 'files');
  mkdirSync(files);
  TRICKY_NAMES.forEach((name, i) => {
    writeFileSync(join(files, name), 'x'.repeat(i * 37));
  });
  const dirs = join(root, 'dirs');
  mkdirSync(dirs);
  for (const name of TRICKY_NAMES.slice(0, 16)) {
    const d = join(dirs, name);
    mkdirSync(d);
    writeFileSync(join(d, 'child.txt'), name);
    mkdirSync(join(d, 'sub'));
    writeFileSync(join(d, 'sub', '.dotchild'), '');
  }
  const invalidDir = join(root, 'invalid');
  mkdirSync(invalidDir);
  INVALID_NAMES.forEach((name, i) => writeFileSync(bpath(invalidDir, name), Buffer.alloc(i * 100, 1)));
  const badDir = bpath(invalidDir, Buffer.from([0x64, 0x69, 0x72, 0xfe])); // dir\xfe
  mkdirSync(badDir);
  writeFileSync(bpath(badDir, Buffer.from('inside.txt')), 'inside');
  writeFileSync(bpath(badDir, Buffer.from([0xfd, 0xfc])), 'double bad');
  symlinkSync(Buffer.from([0x74, 0x61, 0x72, 0xff]), bpath(invalidDir, Buffer.from('link-to-bad-bytes')));

  const links = join(root, 'links');
  mkdirSync(links);
  mkdirSync(join(links, 'target-dir'));
  writeFileSync(join(links, 'target-dir', 'in-target'), 'hello');
  writeFileSync(join(links, 'target-file'), 'target');
  symlinkSync('target-file', join(links, 'rel-file'));
  symlinkSync(join(links, 'target-file'), join(links, 'abs-file'));
  symlinkSync('target-dir', join(links, 'rel-dir'));
  symlinkSync('does-not-exist', join(links, 'broken'));
  symlinkSync('loop-b', join(links, 'loop-a'));
  symlinkSync('loop-a', join(links, 'loop-b'));
  symlinkSync('with space', join(links, 'link with space'));
  return { root, invalidDir };
}

/**
 * A directory cycle for `find -L`: `d/sub/up → ../..` (back to d's parent)
 * and `d/self → .`, plus `entry → d`. Without -L these are plain symlinks.
 */
export function makeLoopTree(root: string): void {
  mkdirSync(join(root, 'd', 'sub'), { recursive: true });
  writeFileSync(join(root, 'd', 'file'), 'f');
  writeFileSync(join(root, 'd', 'sub', 'deep'), 'deep');
  symlinkSync('../..', join(root, 'd', 'sub', 'up'));
  symlinkSync('.', join(root, 'd', 'self'));
  symlinkSync('d', join(root, 'entry'));
  symlinkSync('nowhere', join(root, 'broken'));
  symlinkSync('loop-b', join(root, 'loop-a'));
  symlinkSync('loop-a', join(root, 'loop-b'));
}

/**
 * Directories that cannot be read (mode 000) or entered (mode 0644, readable
 * but not searchable), each with content that a walker must not report.
 * Root is exempt from permission checks: walk these as an unprivileged user.
 */
export function makeUnreadableTree(root: string): void {
  mkdirSync(join(root, 'ok', 'inner'), { recursive: true });
  writeFileSync(join(root, 'ok', 'inner', 'file'), 'x');
  mkdirSync(join(root, 'locked', 'hidden-sub'), { recursive: true });
  writeFileSync(join(root, 'locked', 'secret'), 'secret');
  mkdirSync(join(root, 'ok', 'nested-locked'));
  writeFileSync(join(root, 'ok', 'nested-locked', 'x'), 'x');
  mkdirSync(join(root, 'noexec'));
  writeFileSync(join(root, 'noexec', 'visible-name'), 'x');
  writeFileSync(join(root, 'after'), 'after');
  chmodSync(join(root, 'locked'), 0o000);
  chmodSync(join(root, 'ok', 'nested-locked'), 0o000);
  chmodSync(join(root, 'noexec'), 0o644);
}

/** Sparse files: `sparse-1g` is 1 GiB long with a few written bytes; `sparse-hole-end` ends in a hole. */
export function makeSparseTree(root: string): void {
  mkdirSync(root, { recursive: true });
  const big = join(root, 'sparse-1g');
  const fd = openSync(big, 'w');
  try {
    writeSync(fd, 'start');
    writeSync(fd, 'middle', 512 * 1024 * 1024);
    writeSync(fd, 'end', 1024 * 1024 * 1024 - 3);
  } finally {
    closeSync(fd);
  }
  const hole = join(root, 'sparse-hole-end');
  const fd2 = openSync(hole, 'w');
  try {
    writeSync(fd2, 'data');
  } finally {
    closeSync(fd2);
  }
  execFileSync('truncate', ['-s', String(64 * 1024 * 1024), hole]);
  writeFileSync(join(root, 'dense'), Buffer.alloc(100_000, 7));
}

/**
 * Hard links: one inode under several names (some in other directories),
 * and a directory symlink whose target is inside the tree.
 */
export function makeHardlinkTree(root: string): void {
  mkdirSync(join(root, 'a'), { recursive: true });
  mkdirSync(join(root, 'b', 'c'), { recursive: true });
  const orig = join(root, 'a', 'orig');
  writeFileSync(orig, Buffer.alloc(10_000, 3));
  linkSync(orig, join(root, 'a', 'link1'));
  linkSync(orig, join(root, 'b', 'link2'));
  linkSync(orig, join(root, 'b', 'c', 'link3'));
  writeFileSync(join(root, 'b', 'single'), Buffer.alloc(5000, 4));
  const pair = join(root, 'b', 'pair');
  writeFileSync(pair, Buffer.alloc(70_000, 5));
  linkSync(pair, join(root, 'b', 'c', 'pair2'));
  symlinkSync('../a', join(root, 'b', 'dirlink'));
  symlinkSync(orig, join(root, 'abs-link-to-orig'));
}

/** One directory holding `count` empty files (`f000000` …). */
export function makeHugeDir(dir: string, count: number): void {
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < count; i++) closeSync(openSync(join(dir, `f${String(i).padStart(6, '0')}`), 'w'));
}

export interface TreeSpec {
  /** Entries to create below the root (files + directories). */
  entries: number;
  /** Subdirectories per directory. Default 4. */
  fanout?: number;
  /** Files per directory. Default 36. */
  filesPerDir?: number;
  /** Largest file, bytes (sizes are deterministic in [0, maxFileBytes)). Default 2048. 0 = empty files. */
  maxFileBytes?: number;
}

export interface TreeCounts {
  files: number;
  dirs: number;
}

/**
 * A generic tree of exactly `spec.entries` entries below `root`, built
 * breadth first: each directory gets `filesPerDir` files then `fanout`
 * subdirectories, until the count is reached. With the defaults one entry in
 * ten is a directory, a realistic shape for source and data trees (22,200
 * entries: 2,220 directories, 6 levels deep).
 * Deterministic: names, sizes and mtimes depend only on the spec.
 */
export function makeTree(root: string, spec: TreeSpec): TreeCounts {
  const fanout = spec.fanout ?? 4;
  const perDir = spec.filesPerDir ?? 36;
  const maxBytes = spec.maxFileBytes ?? 2048;
  const content = Buffer.alloc(Math.max(maxBytes, 1), 0x61);
  mkdirSync(root, { recursive: true });
  const queue: string[] = [root];
  let made = 0;
  let files = 0;
  let dirs = 0;
  for (let q = 0; q < queue.length && made < spec.entries; q++) {
    const dir = queue[q]!;
    for (let i = 0; i < perDir && made < spec.entries; i++, made++, files++) {
      const size = maxBytes === 0 ? 0 : ((files * 2_654_435_761) % maxBytes) >>> 0;
      const fd = openSync(join(dir, `file-${String(files).padStart(7, '0')}.dat`), 'w');
      if (size > 0) writeSync(fd, content, 0, size);
      closeSync(fd);
    }
    for (let i = 0; i < fanout && made < spec.entries; i++, made++, dirs++) {
      const d = join(dir, `dir-${String(dirs).padStart(6, '0')}`);
      mkdirSync(d);
      queue.push(d);
    }
    queue[q] = ''; // let the string go; the queue itself is the only whole-tree array here
  }
  utimesSync(root, BASE_MTIME_S, BASE_MTIME_S);
  return { files, dirs };
}

/**
 * A generated tree kept between runs (benches, slow tests) under
 * `$TMPDIR/clustrix-trees/<spec>`. Safe when several test workers ask at once:
 * each builds in its own temp dir and renames it into place, so the tree
 * appears complete or not at all, and the first rename wins.
 */
export function cachedTree(spec: TreeSpec): string {
  const key = `tree-v2-${spec.entries}-${spec.fanout ?? 4}-${spec.filesPerDir ?? 36}-${spec.maxFileBytes ?? 2048}`;
  const base = join(tmpdir(), 'clustrix-trees');
  mkdirSync(base, { recursive: true, mode: 0o755 });
  chmodSync(base, 0o755);
  const root = join(base, key);
  if (existsSync(root)) return root;
  const building = mkdtempSync(`${root}.build-`);
  try {
    makeTree(join(building, 't'), spec);
    renameSync(join(building, 't'), root);
  } catch (err) {
    if (!existsSync(root)) throw err; // not a lost race: a real failure
  } finally {
    removeTree(building);
  }
  return root;
}
