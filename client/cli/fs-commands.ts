/** Filesystem commands: ls, stat, find, du, count, glob, cat, write, mkdir, rm, mv, realpath, exists/isdir/isfile. ls, stat, du and cat take several operands (operands.ts). */
import type { Command } from 'commander';
import type { FileType, FindEntry } from '../../protocol/index.js';
import type { Cluster } from '../cluster.js';
import type { FindOptions } from '../fs.js';
import { EXIT, UsageError } from './exit.js';
import { humanSize, json, parseSize, parseTime, statText } from './format.js';
import { listCommand, type LsFlags } from './ls-command.js';
import { firstFailure, manyHosts, perPath, reportFailure, shownPath } from './operands.js';
import { out, withCluster, withClusters, type GlobalOptions } from './session.js';
import { localPath, parseFsTarget, parseTarget } from './target.js';

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

export function registerFsCommands(program: Command, globals: () => GlobalOptions): void {
  program
    .command('ls')
    .description('list directories (and name files), with type, size, mtime, mode and owner of every entry in one round trip')
    .argument('[targets...]', 'host:path, local:path or local paths; quoted patterns are expanded on the host (default: ".")')
    .option('-l, --long', 'long listing like ls -l')
    .option('-a, --all', 'include entries starting with a dot')
    .option('-h, --human', 'sizes like 4.2M (with -l)')
    .option('-t', 'newest first (by modification time)')
    .option('-S', 'largest first')
    .option('-r, --reverse', 'reverse the order')
    .option('-d, --directory', 'list directories themselves, not their contents')
    .addHelpText(
      'after',
      "\nExamples:\n  clustrix ls -la ~\n  clustrix ls -lt mycluster:/scratch/$USER | head   # newest first\n  clustrix ls -ld 'mycluster:runs/*'\n  clustrix ls --json local:/tmp | jq length",
    )
    .action(async (operands: string[], o: LsFlags) => {
      const g = globals();
      process.exitCode = await withClusters(g, (get, signal) => listCommand(operands.length ? operands : ['.'], o, g, get, signal));
    });

  program
    .command('stat')
    .description('file status like GNU stat (does not follow a final symlink unless -L)')
    .argument('<targets...>', 'host:path or local paths; quoted patterns are expanded on the host')
    .option('-L, --dereference', 'follow symlinks')
    .addHelpText('after', "\nExamples:\n  clustrix stat ~/.bashrc\n  clustrix stat --json mycluster:/scratch/run1/out.h5 'mycluster:/scratch/run2/*.h5'")
    .action(async (operands: string[], o: { dereference?: boolean }) => {
      const g = globals();
      const qualify = manyHosts(operands);
      process.exitCode = await withClusters(g, async (get, signal) => {
        let code: number = EXIT.OK;
        const each = (c: Cluster, path: string) => (o.dereference ? c.fs.stat(path, { signal }) : c.fs.lstat(path, { signal }));
        for await (const r of perPath(operands, get, signal, each, { concurrent: true })) {
          if (signal.aborted) return EXIT.INTERRUPTED;
          if ('error' in r) code = firstFailure(code, reportFailure(r.error, r));
          else await out((g.json ? json({ path: shownPath(r, qualify), ...r.value }) : statText(shownPath(r, qualify), r.value)) + '\n');
        }
        return code;
      });
    });

  program
    .command('find')
    .description('walk trees like GNU find; results stream as they are found')
    .argument('[targets...]', 'host:path or local paths, walked in turn; quoted patterns are expanded on the host (default: ".")')
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
    .action(async (operands: string[], o: Record<string, unknown>) => {
      const g = globals();
      const ops = operands.length ? operands : ['.'];
      const qualify = manyHosts(ops);
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
      if (o.timeLimit !== undefined) opts.timeLimitMs = (o.timeLimit as number) * 1000;
      if (g.json) opts.stat = true;
      const sep = o.print0 ? '\0' : '\n';
      // --limit counts over all the operands: later ones get what is left.
      const limit = o.limit as number | undefined;
      let matched = 0;
      process.exitCode = await withClusters(g, async (get, signal) => {
        const each = async (c: Cluster, path: string, given: string, host: string) => {
          if (limit !== undefined && matched >= limit) return { errors: 0, truncated: true };
          // Printed paths start with the root as written, like GNU find's (a local relative root travels absolute).
          const shown = (p: string) => shownPath({ host, path: given !== path && p.startsWith(path) ? given + p.slice(path.length) : p }, qualify);
          const s = c.fs.find(path, { ...opts, ...(limit === undefined ? {} : { limit: limit - matched }), signal });
          let buf = '';
          let errors = 0;
          const flush = async () => {
            if (buf) await out(buf);
            buf = '';
          };
          for await (const e of s) {
            if (e.error) {
              errors++;
              process.stderr.write(`clustrix find: '${shown(e.path)}': ${e.error.message}\n`);
              continue;
            }
            buf += g.json ? json({ ...e, path: shown(e.path) }) + '\n' : shown(e.path) + sep;
            if (buf.length > 64 * 1024) await flush();
          }
          await flush();
          const summary = await s.result;
          matched += summary.matched;
          return { errors, truncated: summary.truncated };
        };
        let code: number = EXIT.OK;
        let truncated = false;
        for await (const r of perPath(ops, get, signal, each, { concurrent: false })) {
          if (signal.aborted) return EXIT.INTERRUPTED;
          if ('error' in r) {
            code = firstFailure(code, reportFailure(r.error, r));
            continue;
          }
          if (r.value.errors > 0) code = firstFailure(code, EXIT.FAILED);
          truncated ||= r.value.truncated;
        }
        if (truncated) process.stderr.write(`clustrix find: stopped after ${matched} matches (--limit)\n`);
        return code;
      });
    });

  program
    .command('du')
    .description('disk usage of each tree (hard links once), like du -s')
    .argument('[targets...]', 'host:path or local paths; quoted patterns are expanded on the host (default: ".")')
    .option('-b, --bytes', 'apparent size in bytes (du -sb)')
    .option('-B, --block-size <size>', 'allocated size in units of size, like du -B (-B1: bytes)')
    .option('-h, --human', 'human-readable allocated size (du -sh)')
    .option('-d, --max-depth <n>', 'also a line for every directory down to depth n, like du --max-depth (-d 1: each subdirectory)', int('--max-depth'))
    .option('-c, --total', 'also print a grand total')
    .option('-x, --one-file-system', 'stay on one filesystem')
    .addHelpText(
      'after',
      "\nExamples:\n  clustrix du -h ~/data\n  clustrix du -ch 'mycluster:/scratch/$USER/run*'\n  clustrix du --json mycluster:/scratch/$USER",
    )
    .action(
      async (operands: string[], o: { bytes?: boolean; blockSize?: string; human?: boolean; maxDepth?: number; total?: boolean; oneFileSystem?: boolean }) => {
        const g = globals();
        const ops = operands.length ? operands : ['.'];
        const qualify = manyHosts(ops);
        const block = o.blockSize ? parseSize(o.blockSize) : 1024;
        const size = (apparent: number, allocated: number) =>
          o.bytes ? String(apparent) : o.human ? humanSize(allocated) : String(Math.ceil(allocated / block));
        process.exitCode = await withClusters(g, async (get, signal) => {
          const showProgress = process.stderr.isTTY && !g.json;
          const each = async (c: Cluster, path: string, given: string) => {
            const r = await c.fs.du(path, {
              signal,
              xdev: Boolean(o.oneFileSystem),
              ...(o.maxDepth === undefined ? {} : { maxDepth: o.maxDepth }),
              onProgress: showProgress ? (p) => process.stderr.write(`\r${p.visited} entries, ${humanSize(p.apparentBytes ?? 0)}…`) : undefined,
            });
            if (showProgress) process.stderr.write('\r\x1b[K');
            // Below the root, paths as written (a relative local root travels absolute).
            for (const d of r.byDir ?? []) if (path !== given && d.path.startsWith(path)) d.path = given + d.path.slice(path.length);
            return r;
          };
          let code: number = EXIT.OK;
          const total = { apparentBytes: 0, allocatedBytes: 0 };
          for await (const r of perPath(ops, get, signal, each, { concurrent: false })) {
            if (signal.aborted) return EXIT.INTERRUPTED;
            if ('error' in r) {
              code = firstFailure(code, reportFailure(r.error, r));
              continue;
            }
            const d = r.value;
            for (const e of d.firstErrors) process.stderr.write(`clustrix du: cannot read '${e.path}': ${e.error?.message ?? 'error'}\n`);
            if (d.errors > 0) code = firstFailure(code, EXIT.FAILED);
            total.apparentBytes += d.apparentBytes;
            total.allocatedBytes += d.allocatedBytes;
            const path = shownPath(r, qualify);
            if (g.json)
              await out(json({ path, ...d, byDir: d.byDir?.map((x) => ({ ...x, path: shownPath({ host: r.host, path: x.path }, qualify) })) }) + '\n');
            else if (d.byDir)
              await out(d.byDir.map((x) => `${size(x.apparentBytes, x.allocatedBytes)}\t${shownPath({ host: r.host, path: x.path }, qualify)}\n`).join(''));
            else await out(`${size(d.apparentBytes, d.allocatedBytes)}\t${path}\n`);
          }
          if (o.total) await out(g.json ? json({ total: true, ...total }) + '\n' : `${size(total.apparentBytes, total.allocatedBytes)}\ttotal\n`);
          return code;
        });
      },
    );

  program
    .command('count')
    .description('count entries under each tree by type, without listing them')
    .argument('[targets...]', 'host:path or local paths; quoted patterns are expanded on the host (default: ".")')
    .option('--name <glob>', 'basename matches glob (repeatable)', collect)
    .option('--type <t>', 'f, d, l, …')
    .action(async (operands: string[], o: { name?: string[]; type?: string }) => {
      const g = globals();
      const ops = operands.length ? operands : ['.'];
      const qualify = manyHosts(ops);
      process.exitCode = await withClusters(g, async (get, signal) => {
        const opts: Parameters<Cluster['fs']['count']>[1] = { signal };
        if (o.name) opts.name = o.name;
        if (o.type) opts.type = o.type.split(',').map((t) => FIND_TYPES[t] ?? (t as FileType));
        let code: number = EXIT.OK;
        for await (const r of perPath(ops, get, signal, (c, path) => c.fs.count(path, opts), { concurrent: true })) {
          if (signal.aborted) return EXIT.INTERRUPTED;
          if ('error' in r) {
            code = firstFailure(code, reportFailure(r.error, r));
            continue;
          }
          const n = r.value;
          const path = shownPath(r, qualify);
          await out(
            g.json
              ? json({ path, ...n }) + '\n'
              : `${n.total}\t${path}\t(files ${n.files}, dirs ${n.dirs}, symlinks ${n.symlinks}, other ${n.other}, errors ${n.errors})\n`,
          );
          if (n.errors > 0) code = firstFailure(code, EXIT.FAILED);
        }
        return code;
      });
    });

  program
    .command('glob')
    .description('expand a shell glob (*, ?, [..], **) on the target, like bash with globstar')
    .argument('<pattern>', "host:pattern or a local pattern (quote it: 'runs/**/*.log')")
    .option('--cwd <dir>', 'directory a relative pattern is relative to (default: home on a host, the working directory locally)')
    .option('--dot', 'let wildcards match leading dots')
    .option('--limit <n>', 'stop after n matches', int('--limit'))
    .action(async (operand: string, o: { cwd?: string; dot?: boolean; limit?: number }) => {
      const g = globals();
      const { host, path } = parseTarget(operand);
      process.exitCode = await withCluster(host, g, async (c, signal) => {
        const opts: Parameters<typeof c.fs.glob>[1] = { signal };
        if (o.cwd) opts.cwd = host === 'local' ? localPath(o.cwd) : o.cwd;
        else if (host === 'local') opts.cwd = process.cwd();
        if (o.dot) opts.dot = true;
        if (o.limit !== undefined) opts.limit = o.limit;
        const all: FindEntry[] = await c.fs.glob(path, opts).toArray();
        await out(all.map((e) => (g.json ? json(e) : e.path) + '\n').join(''));
        return all.length === 0 ? EXIT.NOT_FOUND : EXIT.OK;
      });
    });

  program
    .command('cat')
    .description('print files (or a byte range of each) to stdout, streamed, one after the other')
    .argument('<targets...>', 'host:path or local paths; quoted patterns are expanded on the host')
    .option('--offset <bytes>', 'start at this byte', int('--offset'))
    .option('--length <bytes>', 'read at most this many bytes', int('--length'))
    .action(async (operands: string[], o: { offset?: number; length?: number }) => {
      const g = globals();
      process.exitCode = await withClusters(g, async (get, signal) => {
        const each = async (c: Cluster, path: string) => {
          const r: { signal: AbortSignal; offset?: number; length?: number } = { signal };
          if (o.offset !== undefined) r.offset = o.offset;
          if (o.length !== undefined) r.length = o.length;
          const s = c.fs.read(path, r);
          for await (const chunk of s) await out(chunk as unknown as string);
          await s.result;
        };
        let code: number = EXIT.OK;
        for await (const r of perPath(operands, get, signal, each, { concurrent: false })) {
          if (signal.aborted) return EXIT.INTERRUPTED;
          if ('error' in r) code = firstFailure(code, reportFailure(r.error, r));
        }
        return code;
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
      const { host, path } = parseFsTarget(operand);
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
      const { host, path } = parseFsTarget(operand);
      process.exitCode = await withCluster(host, globals(), async (c, signal) => void (await c.fs.mkdir(path, { signal })));
    });

  program
    .command('rm')
    .description('remove a file or empty directory; trees only with -r')
    .argument('<target>', 'host:path or local path')
    .option('-r, --recursive', 'remove a whole tree')
    .option('-f, --force', 'no error if it does not exist')
    .action(async (operand: string, o: { recursive?: boolean; force?: boolean }) => {
      const { host, path } = parseFsTarget(operand);
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
      const from = parseFsTarget(fromOp);
      const to = parseTarget(toOp);
      if (to.host !== 'local' && to.host !== from.host) throw new UsageError('mv works within one host');
      // A bare <to> is a path on from's host: relative to the working directory only when that host is this machine.
      if (from.host === 'local') to.path = localPath(to.path);
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
      const { host, path } = parseFsTarget(operand);
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
        const { host, path } = parseFsTarget(operand);
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
