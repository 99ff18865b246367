/**
 * GNU find's spelling for `clustrix find`: before commander parses the command
 * line, rewrite the single-dash predicates that mean exactly what a clustrix
 * option means (-name → --name, -mount → --xdev, -print dropped, …) and refuse
 * the GNU predicates and operators clustrix does not have, with a UsageError
 * that names the clustrix way to do it where there is one. Values such as
 * -size +1M or -mtime -2 are never converted: GNU's rounding differs, and a
 * near-miss that runs silently is worse than an error.
 */
import { UsageError } from './exit.js';

/** Global options (main.ts) that may come before the subcommand. */
const GLOBAL_FLAGS = new Set(['--json', '-h', '--help']);
const GLOBAL_VALUED = new Set(['--root', '--run-dir']);

/** Options of `find` (and the globals) whose next token is their value, even when it starts with '-'. */
const VALUED = new Set([
  '--name',
  '--iname',
  '--path',
  '--type',
  '--min-size',
  '--max-size',
  '--newer',
  '--older',
  '--maxdepth',
  '--mindepth',
  '--prune',
  '--limit',
  '--time-limit',
  ...GLOBAL_VALUED,
]);

/** GNU spelling → the clustrix option that means the same ('' = drop it: it is what find does anyway). */
const SAME: Record<string, string> = {
  '-name': '--name',
  '-iname': '--iname',
  '-path': '--path',
  '-wholename': '--path',
  '-type': '--type',
  '-maxdepth': '--maxdepth',
  '-mindepth': '--mindepth',
  '-xdev': '--xdev',
  '-mount': '--xdev',
  '-follow': '--follow',
  '-print0': '--print0',
  '-print': '',
  // GNU's "never follow symlinks", which is what find does without -L.
  '-P': '',
};

/**
 * GNU ANDs a repeated test; clustrix's --name/--iname mean any of, and --path/--type keep the last.
 * Given more than once with one of them in GNU spelling, these are refused rather than silently changed.
 */
const REPEATED: Record<string, string> = {
  '--name': "clustrix's --name given several times means any of",
  '--iname': "clustrix's --iname given several times means any of",
  '--path': 'clustrix keeps only the last --path, so give it once',
  '--type': 'clustrix keeps only the last --type; for any of several give one comma list (-type f,d)',
};

const SIZE = 'use --min-size N / --max-size N (512, 10k, 5M, 1G) for -size +N / -size -N';
const MTIME = 'use --newer / --older with an age like 2h, 7d or an ISO date';
const PIPE = 'print with -0 and pipe into xargs -0 (e.g. -0 | xargs -0 rm, or xargs -0 -n1 cmd)';
const FORMAT = 'use --json (one JSON line per entry with size, mtime, mode, owner…), or -0 | xargs -0 for a command per file';
const LOGIC = 'filters are always ANDed; --name given several times means any of';
const jsonField = (what: string) => `--json prints each entry's ${what}; filter that (e.g. with jq)`;

/** GNU predicates, actions and operators clustrix does not support → what to do instead ('' = nothing equivalent). */
const REFUSED: Record<string, string> = {
  '-H': 'symlinks are followed everywhere (-L) or nowhere (the default)',
  '-size': SIZE,
  '-mtime': MTIME,
  '-mmin': MTIME,
  '-newer': MTIME,
  '-atime': jsonField('atimeMs'),
  '-amin': jsonField('atimeMs'),
  '-anewer': jsonField('atimeMs'),
  '-ctime': jsonField('ctimeMs'),
  '-cmin': jsonField('ctimeMs'),
  '-cnewer': jsonField('ctimeMs'),
  '-user': jsonField('owner and uid'),
  '-uid': jsonField('uid'),
  '-nouser': jsonField('owner and uid'),
  '-group': jsonField('group and gid'),
  '-gid': jsonField('gid'),
  '-nogroup': jsonField('group and gid'),
  '-perm': jsonField('mode'),
  '-links': jsonField('nlink'),
  '-inum': jsonField('ino'),
  '-samefile': jsonField('ino and dev'),
  '-exec': PIPE,
  '-execdir': PIPE,
  '-ok': PIPE,
  '-okdir': PIPE,
  '-delete': PIPE,
  '-printf': FORMAT,
  '-fprintf': FORMAT,
  '-fprint': 'redirect the output instead (> file)',
  '-fprint0': 'use -0 and redirect the output instead (> file)',
  '-ls': FORMAT,
  '-fls': FORMAT,
  '-prune': 'use --prune <glob> (do not descend into directories whose name matches)',
  '-o': LOGIC,
  '-or': LOGIC,
  '-a': LOGIC,
  '-and': LOGIC,
  '-not': LOGIC,
  '!': LOGIC,
  '(': LOGIC,
  ')': LOGIC,
  '-regex': 'use --name / --iname / --path globs',
  '-iregex': 'use --name / --iname / --path globs',
  '-ipath': '--path is case-sensitive; --iname matches the basename case-insensitively',
  '-iwholename': '--path is case-sensitive; --iname matches the basename case-insensitively',
  '-empty': 'for empty files use --type f --max-size 0',
  '-quit': 'use --limit 1',
  '-depth': '',
  '-lname': '',
  '-ilname': '',
  '-xtype': '',
  '-readable': '',
  '-writable': '',
  '-executable': '',
};

/** -newerXY (-newermt, -newerct, …): a time comparison like -newer. */
const NEWER_XY = /^-newer[aBcmt][aBcmt]$/;

/** rec[key] for own keys only: a plain word such as "constructor" is not a predicate. */
const own = (rec: Record<string, string>, key: string): string | undefined => (Object.hasOwn(rec, key) ? rec[key] : undefined);

function refuse(token: string, hint: string): never {
  const shown = token.startsWith('-') ? token : `'${token}'`;
  throw new UsageError(`find: GNU find's ${shown} is not supported${hint ? `; ${hint}` : ''}`);
}

/** Index of the subcommand in a process.argv-style array: the first token after argv[1] that is not a global option. */
function subcommandIndex(argv: readonly string[]): number {
  let i = 2;
  while (i < argv.length) {
    const t = argv[i]!;
    if (GLOBAL_VALUED.has(t)) i += 2;
    else if (GLOBAL_FLAGS.has(t) || [...GLOBAL_VALUED].some((o) => t.startsWith(`${o}=`))) i += 1;
    else return i;
  }
  return -1;
}

/**
 * Rewrite a process.argv-style array (['node', 'cli.mjs', …]) so that `find`
 * also takes GNU find's spelling of the predicates it supports. Only the tokens
 * after `find` change, up to a `--`; other commands come back unchanged.
 * Throws UsageError for a GNU predicate or operator clustrix does not support.
 */
export function gnuFindArgs(argv: readonly string[]): string[] {
  const sub = subcommandIndex(argv);
  if (sub < 0 || argv[sub] !== 'find') return [...argv];
  const out = argv.slice(0, sub + 1);
  const given = new Map<string, number>();
  const gnuSpelling = new Map<string, string>();
  let i = sub + 1;
  for (; i < argv.length; i++) {
    const t = argv[i]!;
    if (t === '--') break;
    const eq = t.indexOf('=');
    const opt = t.startsWith('--') && eq > 0 ? t.slice(0, eq) : t;
    if (VALUED.has(opt)) {
      given.set(opt, (given.get(opt) ?? 0) + 1);
      out.push(t);
      if (opt === t && i + 1 < argv.length) out.push(argv[++i]!);
      continue;
    }
    const same = own(SAME, t);
    if (same !== undefined) {
      if (same === '') continue;
      out.push(same);
      if (VALUED.has(same)) {
        given.set(same, (given.get(same) ?? 0) + 1);
        if (own(REPEATED, same) !== undefined && !gnuSpelling.has(same)) gnuSpelling.set(same, t);
        if (i + 1 < argv.length) out.push(argv[++i]!);
      }
      continue;
    }
    const hint = own(REFUSED, t) ?? (NEWER_XY.test(t) ? MTIME : undefined);
    if (hint !== undefined) refuse(t, hint);
    out.push(t);
  }
  for (const [opt, gnu] of gnuSpelling) {
    if ((given.get(opt) ?? 0) > 1) throw new UsageError(`find: ${gnu} given more than once: GNU find requires all to match, but ${REPEATED[opt]}`);
  }
  return [...out, ...argv.slice(i)];
}
