/** Filesystem commands: ls, stat, find, du, count, glob, cat, write, mkdir, rm, mv, realpath, exists/isdir/isfile. */
import type { Command } from 'commander';
import type { FileType, FindEntry } from '../../protocol/index.js';
import type { FindOptions } from '../fs.js';
import { EXIT, UsageError } from './exit.js';
import { humanSize, lsLong, parseSize, parseTime, shellQuoteForDisplay, statText } from './format.js';
import { out, withCluster, type GlobalOptions } from './session.js';
import { parseTarget } from './target.js';

const FIND_TYPES: Record<string, FileType> = { f: 'file', d: 'dir', l: 'symlink', b: 'block', c: 'char', p: 'fifo', s: 'socket' };

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

function int(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`${name} must be a whole number >= 0, got "${v}"`);
    return n;
  };
}

const json = (v: unknown) => JSON.stringify(v, (_k, x: unknown) => (x instanceof Uint8Array ? Buffer.from(x).toString('base64') : x));

export function registerFsCommands(program: Command, globals: () => GlobalOptions): void {
  program
    .command('ls')
    .description('list a directory, with type, size, mtime, mode and owner of every entry in one round trip')
    .argument('[target]', 'host:path, local:path or a local path', '.')
    .option('-l, --long', 'long listing like ls -l')
    .option('-a, --all', 'include entries starting with a dot')
    .option('-h, --human', 'sizes like 4.2M (with -l)')
    .addHelpText('after', '\nExamples:\n  clustrix ls -la ~\n  clustrix ls -l mycluster:/scratch/$USER\n  clustrix ls --json local:/tmp | jq length')
    .action(async (operand: string, o: { long?: boolean; all?: boolean; human?: boolean }) => {
      const g = globals();
      const { host, path } = parseTarget(operand);
      process.exitCode = await withCluster(host, g, async (c, signal) => {
        const entries = (await c.fs.ls(path, { signal, stat: Boolean(o.long) || Boolean(g.json) }))
          .filter((e) => o.all || !e.name.startsWith('.'))
          .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        if (g.json) return void (await out(json(entries) + '\n'));
        const tty = process.stdout.isTTY;
        const lines = o.long ? lsLong(entries, { human: Boolean(o.human), tty }) : entries.map((e) => (tty ? shellQuoteForDisplay(e.name) : e.name));
        for (const e of entries) if (e.error) process.stderr.write(`clustrix ls: ${e.name}: ${e.error.message}\n`);
        if (lines.length) await out(lines.join('\n') + '\n');
        return entries.some((e) => e.error) ? EXIT.FAILED : EXIT.OK;
      });
    });

  program
    .command('stat')
    .description('file status like GNU stat (does not follow a final symlink unless -L)')
    .argument('<target...>', 'host:path or local paths')
    .option('-L, --dereference', 'follow symlinks')
    .addHelpText('after', '\nExamples:\n  clustrix stat ~/.bashrc\n  clustrix stat --json mycluster:/scratch/run1/out.h5')
    .action(async (operands: string[], o: { dereference?: boolean }) => {
      const g = globals();
      let code: number = EXIT.OK;
      for (const operand of operands) {
        const { host, path } = parseTarget(operand);
        const r = await withCluster(host, g, async (c, signal) => {
          const s = o.dereference ? await c.fs.stat(path, { signal }) : await c.fs.lstat(path, { signal });
          await out((g.json ? json({ path, ...s }) : statText(path, s)) + '\n');
        });
        if (r !== EXIT.OK) code = r;
      }
      process.exitCode = code;
    });

  program
    .command('find')
    .description('walk a tree like GNU find; results stream as they are found')
    .argument('[target]', 'host:path or local path', '.')
    .option('--name <glob>', 'basename matches glob (repeatable: any)', collect)
    .option('--iname <glob>', 'like --name, case-insensitive', collect)
    .option('--path <glob>', 'whole printed path matches glob')
    .option('--type <t>', 'f, d, l, b, c, p, s (comma-separated for several)')
    .option('--min-size <size>', 'at least this size (512, 10k, 5M, 1G)')
    .option('--max-size <size>', 'at most this size')
    .option('--newer <time>', 'modified after: ISO date, epoch ms, or an age like 2h, 7d')
    .option('--older <time>', 'modified before (same forms)')
    .option('--maxdepth <n>', 'descend at most n levels', int('--maxdepth'))
    .option('--mindepth <n>', 'skip entries above depth n', int('--mindepth'))
    .option('-L, --follow', 'follow symlinks')
    .option('--xdev', 'stay on one filesystem')
    .option('--prune <glob>', 'do not descend into directories named like this (repeatable)', collect)
    .option('--limit <n>', 'stop after n matches', int('--limit'))
    .option('-0, --print0', 'separate paths with NUL (for xargs -0)')
    .option('--time-limit <seconds>', 'give up after this many seconds', int('--time-limit'))
    .addHelpText(
      'after',
      "\nExamples:\n  clustrix find ~/runs --name '*.out' --newer 1d\n  clustrix find mycluster:/scratch/$USER --type f --min-size 1G --json\n  clustrix find . --prune .git --name '*.py' -0 | xargs -0 wc -l",
    )
    .action(async (operand: string, o: Record<string, unknown>) => {
      const g = globals();
      const { host, path } = parseTarget(operand);
      const opts: FindOptions = {};
      try {
        if (o.name) opts.name = o.name as string[];
        if (o.iname) opts.iname = o.iname as string[];
        if (o.path) opts.path = o.path as string;
        if (o.type) {
          opts.type = String(o.type)
            .split(',')
            .map((t) => {
              const full = FIND_TYPES[t] ?? (Object.values(FIND_TYPES).includes(t as FileType) ? (t as FileType) : undefined);
              if (!full) throw new UsageError(`--type: unknown type "${t}" (use f, d, l, b, c, p, s)`);
              return full;
            });
        }
        if (o.minSize) opts.minSize = parseSize(String(o.minSize));
        if (o.maxSize) opts.maxSize = parseSize(String(o.maxSize));
        if (o.newer) opts.newerThan = parseTime(String(o.newer));
        if (o.older) opts.olderThan = parseTime(String(o.older));
      } catch (err) {
        process.stderr.write(`clustrix find: ${(err as Error).message}\n`);
        process.exitCode = EXIT.USAGE;
        return;
      }
      if (o.maxdepth !== undefined) opts.maxDepth = o.maxdepth as number;
      if (o.mindepth !== undefined) opts.minDepth = o.mindepth as number;
      if (o.follow) opts.follow = true;
      if (o.xdev) opts.xdev = true;
      if (o.prune) opts.prune = o.prune as string[];
      if (o.limit !== undefined) opts.limit = o.limit as number;
      if (o.timeLimit !== undefined) opts.timeLimitMs = (o.timeLimit as number) * 1000;
      if (g.json) opts.stat = true;
      const sep = o.print0 ? '\0' : '\n';
      process.exitCode = await withCluster(host, g, async (c, signal) => {
        const s = c.fs.find(path, { ...opts, signal });
        let buf = '';
        let errors = 0;
        const flush = async () => {
          if (buf) await out(buf);
          buf = '';
        };
        for await (const e of s) {
          if (e.error) {
            errors++;
            process.stderr.write(`clustrix find: '${e.path}': ${e.error.message}\n`);
            continue;
          }
          buf += g.json ? json(e) + '\n' : e.path + sep;
          if (buf.length > 64 * 1024) await flush();
        }
        await flush();
        const summary = await s.result;
        if (summary.truncated) process.stderr.write(`clustrix find: stopped after ${summary.matched} matches (--limit)\n`);
        return errors > 0 ? EXIT.FAILED : EXIT.OK;
      });
    });

  program
    .command('du')
    .description('disk usage of a tree (hard links once), like du -s')
    .argument('[target]', 'host:path or local path', '.')
    .option('-b, --bytes', 'apparent size in bytes (du -sb)')
    .option('-B, --block-size <size>', 'allocated size in units of size, like du -B (-B1: bytes)')
    .option('-h, --human', 'human-readable allocated size (du -sh)')
    .option('-x, --one-file-system', 'stay on one filesystem')
    .addHelpText('after', '\nExamples:\n  clustrix du -h ~/data\n  clustrix du --json mycluster:/scratch/$USER')
    .action(async (operand: string, o: { bytes?: boolean; blockSize?: string; human?: boolean; oneFileSystem?: boolean }) => {
      const g = globals();
      const { host, path } = parseTarget(operand);
      process.exitCode = await withCluster(host, g, async (c, signal) => {
        const showProgress = process.stderr.isTTY && !g.json;
        const r = await c.fs.du(path, {
          signal,
          xdev: Boolean(o.oneFileSystem),
          onProgress: showProgress ? (p) => process.stderr.write(`\r${p.visited} entries, ${humanSize(p.apparentBytes ?? 0)}…`) : undefined,
        });
        if (showProgress) process.stderr.write('\r\x1b[K');
        for (const e of r.firstErrors) process.stderr.write(`clustrix du: cannot read '${e.path}': ${e.error?.message ?? 'error'}\n`);
        if (g.json) await out(json({ path, ...r }) + '\n');
        else {
          const block = o.blockSize ? parseSize(o.blockSize) : 1024;
          const v = o.bytes ? String(r.apparentBytes) : o.human ? humanSize(r.allocatedBytes) : String(Math.ceil(r.allocatedBytes / block));
          await out(`${v}\t${path}\n`);
        }
        return r.errors > 0 ? EXIT.FAILED : EXIT.OK;
      });
    });

  program
    .command('count')
    .description('count entries under a tree by type, without listing them')
    .argument('[target]', 'host:path or local path', '.')
    .option('--name <glob>', 'basename matches glob (repeatable)', collect)
    .option('--type <t>', 'f, d, l, …')
    .action(async (operand: string, o: { name?: string[]; type?: string }) => {
      const g = globals();
      const { host, path } = parseTarget(operand);
      process.exitCode = await withCluster(host, g, async (c, signal) => {
        const opts: Parameters<typeof c.fs.count>[1] = { signal };
        if (o.name) opts.name = o.name;
        if (o.type) opts.type = o.type.split(',').map((t) => FIND_TYPES[t] ?? (t as FileType));
        const r = await c.fs.count(path, opts);
        await out(
          g.json
            ? json({ path, ...r }) + '\n'
            : `${r.total}\t${path}\t(files ${r.files}, dirs ${r.dirs}, symlinks ${r.symlinks}, other ${r.other}, errors ${r.errors})\n`,
        );
        return r.errors > 0 ? EXIT.FAILED : EXIT.OK;
      });
    });

  program
    .command('glob')
    .description('expand a shell glob (*, ?, [..], **) on the target, like bash with globstar')
    .argument('<pattern>', "host:pattern or a local pattern (quote it: 'runs/**/*.log')")
    .option('--cwd <dir>', 'directory the pattern is relative to (default: home)')
    .option('--dot', 'let wildcards match leading dots')
    .option('--limit <n>', 'stop after n matches', int('--limit'))
    .action(async (operand: string, o: { cwd?: string; dot?: boolean; limit?: number }) => {
      const g = globals();
      const { host, path } = parseTarget(operand);
      process.exitCode = await withCluster(host, g, async (c, signal) => {
        const opts: Parameters<typeof c.fs.glob>[1] = { signal };
        if (o.cwd) opts.cwd = o.cwd;
        if (o.dot) opts.dot = true;
        if (o.limit !== undefined) opts.limit = o.limit;
        const all: FindEntry[] = await c.fs.glob(path, opts).toArray();
        await out(all.map((e) => (g.json ? json(e) : e.path) + '\n').join(''));
        return all.length === 0 ? EXIT.NOT_FOUND : EXIT.OK;
      });
    });

  program
    .command('cat')
    .description('print a file (or a byte range) to stdout, streamed')
    .argument('<target>', 'host:path or local path')
    .option('--offset <bytes>', 'start at this byte', int('--offset'))
    .option('--length <bytes>', 'read at most this many bytes', int('--length'))
    .action(async (operand: string, o: { offset?: number; length?: number }) => {
      const g = globals();
      const { host, path } = parseTarget(operand);
      process.exitCode = await withCluster(host, g, async (c, signal) => {
        const r: { signal: AbortSignal; offset?: number; length?: number } = { signal };
        if (o.offset !== undefined) r.offset = o.offset;
        if (o.length !== undefined) r.length = o.length;
        const s = c.fs.read(path, r);
        for await (const chunk of s) await out(chunk as unknown as string);
        await s.result;
      });
    });

  program
    .command('write')
    .description('write stdin to a file atomically (temp file + rename)')
    .argument('<target>', 'host:path or local path')
    .option('--mode <octal>', 'file mode, e.g. 644')
    .option('-p, --parents', 'create missing parent directories')
    .action(async (operand: string, o: { mode?: string; parents?: boolean }) => {
      const g = globals();
      const { host, path } = parseTarget(operand);
      const parts: Buffer[] = [];
      for await (const chunk of process.stdin) parts.push(chunk as Buffer);
      process.exitCode = await withCluster(host, g, async (c, signal) => {
        const w: { signal: AbortSignal; mode?: number; mkdirs?: boolean } = { signal, mkdirs: Boolean(o.parents) };
        if (o.mode) w.mode = parseInt(o.mode, 8);
        const r = await c.fs.writeFile(path, Buffer.concat(parts), w);
        if (g.json) await out(json({ path, ...r }) + '\n');
      });
    });

  program
    .command('mkdir')
    .description('create a directory and its parents (mkdir -p)')
    .argument('<target>', 'host:path or local path')
    .action(async (operand: string) => {
      const { host, path } = parseTarget(operand);
      process.exitCode = await withCluster(host, globals(), async (c, signal) => void (await c.fs.mkdir(path, { signal })));
    });

  program
    .command('rm')
    .description('remove a file or empty directory; trees only with -r')
    .argument('<target>', 'host:path or local path')
    .option('-r, --recursive', 'remove a whole tree')
    .option('-f, --force', 'no error if it does not exist')
    .action(async (operand: string, o: { recursive?: boolean; force?: boolean }) => {
      const { host, path } = parseTarget(operand);
      process.exitCode = await withCluster(
        host,
        globals(),
        async (c, signal) => void (await c.fs.rm(path, { signal, recursive: Boolean(o.recursive), force: Boolean(o.force) })),
      );
    });

  program
    .command('mv')
    .description('rename a file or directory (same host)')
    .argument('<from>', 'host:path or local path')
    .argument('<to>', 'path on the same host')
    .option('-n, --no-clobber', 'fail instead of replacing an existing target')
    .action(async (fromOp: string, toOp: string, o: { clobber?: boolean }) => {
      const from = parseTarget(fromOp);
      const to = parseTarget(toOp);
      if (to.host !== 'local' && to.host !== from.host) throw new UsageError('mv works within one host');
      process.exitCode = await withCluster(
        from.host,
        globals(),
        async (c, signal) => void (await c.fs.rename(from.path, to.path, { signal, noReplace: o.clobber === false })),
      );
    });

  program
    .command('realpath')
    .description('canonical absolute path')
    .argument('<target>', 'host:path or local path')
    .action(async (operand: string) => {
      const { host, path } = parseTarget(operand);
      process.exitCode = await withCluster(host, globals(), async (c, signal) => void (await out((await c.fs.realpath(path, { signal })) + '\n')));
    });

  for (const [name, what] of [
    ['exists', 'exists (following symlinks), like test -e'],
    ['isdir', 'is a directory, like test -d'],
    ['isfile', 'is a regular file, like test -f'],
  ] as const) {
    program
      .command(name)
      .description(`exit 0 if the path ${what}; 1 if not`)
      .argument('<target>', 'host:path or local path')
      .action(async (operand: string) => {
        const g = globals();
        const { host, path } = parseTarget(operand);
        process.exitCode = await withCluster(host, g, async (c, signal) => {
          const r =
            name === 'exists'
              ? await c.fs.exists(path, { signal })
              : name === 'isdir'
                ? await c.fs.isDir(path, { signal })
                : await c.fs.isFile(path, { signal });
          if (g.json) await out(json(r) + '\n');
          return r ? EXIT.OK : EXIT.FAILED;
        });
      });
  }
}
