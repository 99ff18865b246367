/** Small pure helpers shared by the scheduler output parsers. */

const SIGNALS: Record<number, string> = {
  1: 'SIGHUP',
  2: 'SIGINT',
  3: 'SIGQUIT',
  4: 'SIGILL',
  6: 'SIGABRT',
  7: 'SIGBUS',
  8: 'SIGFPE',
  9: 'SIGKILL',
  10: 'SIGUSR1',
  11: 'SIGSEGV',
  12: 'SIGUSR2',
  13: 'SIGPIPE',
  14: 'SIGALRM',
  15: 'SIGTERM',
  24: 'SIGXCPU',
  25: 'SIGXFSZ',
};

export function signalName(n: number): string {
  return SIGNALS[n] ?? `SIG${n}`;
}

/** A raw wait(2) status (Slurm's exit_code in squeue -O / --json) → exit code and signal. */
export function decodeWaitStatus(raw: number): { exitCode: number | null; signal: string | null } {
  const sig = raw & 0x7f;
  if (sig !== 0) return { exitCode: null, signal: signalName(sig) };
  return { exitCode: (raw >> 8) & 0xff, signal: null };
}

/** A shell-style status (128+N means killed by signal N). */
export function decodeShellStatus(rc: number): { exitCode: number; signal: string | null } {
  return { exitCode: rc, signal: rc > 128 && rc < 128 + 65 ? signalName(rc - 128) : null };
}

/** "2026-11-23T11:34:18" (local time, no zone) → ms; N/A, Unknown, None → undefined. */
export function parseLocalIso(s: string | undefined): number | undefined {
  if (!s || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/.test(s)) return undefined;
  const t = new Date(s).getTime(); // no zone designator: ECMAScript reads it as local time
  return Number.isFinite(t) ? t : undefined;
}

/** "Wed Apr 14 23:34:17 2021" (ctime(3), local) → ms. */
export function parseCtime(s: string | undefined): number | undefined {
  if (!s) return undefined;
  const m = /^\w{3}\s+(\w{3})\s+(\d{1,2})\s+(\d{2}):(\d{2}):(\d{2})\s+(\d{4})$/.exec(s.trim());
  if (!m) return undefined;
  const month = MONTHS.indexOf(m[1]!);
  if (month < 0) return undefined;
  return new Date(Number(m[6]), month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])).getTime();
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * LSF times have no year and may end in a flag letter: "Nov 23 11:34", "Nov 23 11:34 L",
 * "Nov 23 11:34:05 2026". The year is the one that puts the time not in the future.
 */
export function parseLsfTime(s: string | undefined, now = Date.now()): number | undefined {
  if (!s) return undefined;
  const m = /^(\w{3})\s+(\d{1,2})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s+(\d{4}))?(?:\s+[A-Z])?$/.exec(s.trim());
  if (!m) return undefined;
  const month = MONTHS.indexOf(m[1]!);
  if (month < 0) return undefined;
  const mk = (y: number) => new Date(y, month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5] ?? 0)).getTime();
  if (m[6]) return mk(Number(m[6]));
  const y = new Date(now).getFullYear();
  const t = mk(y);
  return t > now + 86_400_000 ? mk(y - 1) : t;
}

/** "1-02:03:04", "02:03:04", "03:04", "UNLIMITED" → seconds (undefined when unlimited/unknown). */
export function parseSlurmDuration(s: string | undefined): number | undefined {
  if (!s) return undefined;
  const m = /^(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+)$/.exec(s);
  if (!m) return undefined;
  return Number(m[1] ?? 0) * 86400 + Number(m[2] ?? 0) * 3600 + Number(m[3]) * 60 + Number(m[4]);
}

/** Array task expressions as schedulers print them: "1-4:1", "0-2", "1,3,5", "1-4%1" → indices. */
export function expandTaskRange(expr: string): number[] {
  const out: number[] = [];
  for (const part of expr.replace(/%\d+$/, '').split(',')) {
    const m = /^(\d+)(?:-(\d+)(?::(\d+))?)?$/.exec(part.trim());
    if (!m) continue;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    const step = Math.max(1, Number(m[3] ?? 1));
    for (let i = lo; i <= hi && out.length < 10_000_000; i += step) out.push(i);
  }
  return out;
}

/** Decode the five predefined XML entities and numeric references. */
export function xmlDecode(s: string): string {
  return s.replace(/&(?:#(\d+)|#x([0-9a-f]+)|(amp|lt|gt|quot|apos));/gi, (_m, dec: string, hex: string, name: string) => {
    if (dec) return String.fromCodePoint(Number(dec));
    if (hex) return String.fromCodePoint(parseInt(hex, 16));
    return { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }[name.toLowerCase() as 'amp'];
  });
}
