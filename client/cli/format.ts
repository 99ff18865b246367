/** Human output that looks like the familiar tools (ls -l, stat, du -h). */
import type { DirEntry, FileInfo, FileType } from '../../protocol/index.js';

const TYPE_CHAR: Record<FileType, string> = { file: '-', dir: 'd', symlink: 'l', block: 'b', char: 'c', fifo: 'p', socket: 's', unknown: '?' };

/** `-rwxr-xr-x`, with setuid/setgid/sticky like ls. */
export function modeString(type: FileType, mode: number): string {
  const rwx = (bits: number, special: boolean, specialChar: string) =>
    (bits & 4 ? 'r' : '-') + (bits & 2 ? 'w' : '-') + (special ? (bits & 1 ? specialChar : specialChar.toUpperCase()) : bits & 1 ? 'x' : '-');
  return (
    TYPE_CHAR[type] +
    rwx((mode >> 6) & 7, (mode & 0o4000) !== 0, 's') +
    rwx((mode >> 3) & 7, (mode & 0o2000) !== 0, 's') +
    rwx(mode & 7, (mode & 0o1000) !== 0, 't')
  );
}

/** du -h / ls -h style: 1023, 1.0K, 4.2M, 17G (powers of 1024, one decimal under 10). */
export function humanSize(n: number): string {
  const units = ['K', 'M', 'G', 'T', 'P', 'E'];
  if (n < 1024) return String(n);
  let v = n;
  let u = -1;
  do {
    v /= 1024;
    u++;
  } while (v >= 1024 && u < units.length - 1);
  return (v < 10 ? Math.ceil(v * 10) / 10 : Math.ceil(v)).toString() + units[u];
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** ls -l dates: "Nov 23 10:58" within six months, "Nov 23  2025" otherwise. */
export function lsDate(ms: number, now = Date.now()): string {
  const d = new Date(ms);
  const day = String(d.getDate()).padStart(2, ' ');
  const recent = Math.abs(now - ms) < 182.5 * 86_400_000;
  const tail = recent ? `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}` : ` ${d.getFullYear()}`;
  return `${MONTHS[d.getMonth()]} ${day} ${tail}`;
}

/** Names the way `ls` shows them to a terminal: control characters escaped, quoted when needed. */
export function shellQuoteForDisplay(name: string): string {
  if (/^[\w@%+=:,./-]+$/.test(name)) return name;
  if (!/[\x00-\x1f\x7f']/.test(name)) return `'${name}'`;
  let out = "$'";
  for (const ch of name) {
    const c = ch.codePointAt(0)!;
    if (ch === "'") out += "\\'";
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || c === 0x7f) out += `\\${c.toString(8).padStart(3, '0')}`;
    else out += ch;
  }
  return out + "'";
}

export function lsLong(entries: DirEntry[], opts: { human?: boolean; now?: number; tty?: boolean } = {}): string[] {
  const rows = entries.map((e) => {
    const size = e.size ?? 0;
    return {
      mode: modeString(e.type, e.mode ?? 0),
      nlink: String(e.nlink ?? 0),
      owner: e.owner ?? String(e.uid ?? ''),
      group: e.group ?? String(e.gid ?? ''),
      size: opts.human ? humanSize(size) : String(size),
      date: e.mtimeMs === undefined ? '' : lsDate(e.mtimeMs, opts.now),
      name: (opts.tty ? shellQuoteForDisplay(e.name) : e.name) + (e.type === 'symlink' && e.target !== undefined ? ` -> ${e.target}` : ''),
    };
  });
  const w = (k: keyof (typeof rows)[number]) => Math.max(0, ...rows.map((r) => r[k].length));
  const [wl, wo, wg, ws] = [w('nlink'), w('owner'), w('group'), w('size')];
  return rows.map((r) => `${r.mode} ${r.nlink.padStart(wl)} ${r.owner.padEnd(wo)} ${r.group.padEnd(wg)} ${r.size.padStart(ws)} ${r.date} ${r.name}`);
}

const TYPE_WORD: Record<FileType, string> = {
  file: 'regular file',
  dir: 'directory',
  symlink: 'symbolic link',
  block: 'block special file',
  char: 'character special file',
  fifo: 'fifo',
  socket: 'socket',
  unknown: 'unknown',
};

function isoTime(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const frac = pad(Math.round((ms % 1000) * 1e6) % 1e9, 9);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${frac} ${sign}${pad(Math.floor(Math.abs(off) / 60))}${pad(Math.abs(off) % 60)}`;
}

/** GNU `stat` default layout. */
export function statText(path: string, s: FileInfo): string {
  const name = s.type === 'symlink' && s.target !== undefined ? `${path} -> ${s.target}` : path;
  const perm = (s.mode & 0o7777).toString(8).padStart(4, '0');
  return [
    `  File: ${name}`,
    `  Size: ${String(s.size).padEnd(15)} Blocks: ${String(s.blocks).padEnd(10)} ${TYPE_WORD[s.type]}`,
    `Device: ${s.dev.toString(16)}h/${s.dev}d\tInode: ${String(s.ino).padEnd(11)} Links: ${s.nlink}`,
    `Access: (${perm}/${modeString(s.type, s.mode)})  Uid: (${String(s.uid).padStart(5)}/${(s.owner ?? '').padStart(8)})   Gid: (${String(s.gid).padStart(5)}/${(s.group ?? '').padStart(8)})`,
    `Access: ${isoTime(s.atimeMs)}`,
    `Modify: ${isoTime(s.mtimeMs)}`,
    `Change: ${isoTime(s.ctimeMs)}`,
  ].join('\n');
}

/** Parse "10k", "5M", "1G", "512" (bytes; k/M/G/T are powers of 1024, like find -size's units). */
export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)([kKmMgGtT]?)(i?[bB])?$/.exec(s.trim());
  if (!m) throw new Error(`invalid size "${s}" (use e.g. 512, 10k, 5M, 1G)`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase()]!;
  return Math.round(Number(m[1]) * mult);
}

/** Parse a time for --newer/--older: ISO date, epoch ms, or a relative age like 2h, 3d, 30m. */
export function parseTime(s: string, now = Date.now()): number {
  const rel = /^(\d+(?:\.\d+)?)([smhdw])$/.exec(s.trim());
  if (rel) {
    const unit = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 }[rel[2] as 's'];
    return now - Number(rel[1]) * unit;
  }
  if (/^\d{10,}$/.test(s)) return Number(s);
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new Error(`invalid time "${s}" (use an ISO date, epoch ms, or an age like 30m, 2h, 7d)`);
  return t;
}

/** --json output: bytes (raw names, targets) as base64. */
export const json = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (x instanceof Uint8Array ? Buffer.from(x).toString('base64') : x));
