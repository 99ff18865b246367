/**
 * /proc/self/mountinfo, parsed. Pure: text in, entries out. Format (proc(5)):
 *
 *   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
 *   (1)(2) (3)  (4)   (5)      (6)      (7)    (8) (9)    (10)         (11)
 *
 * (7) is zero or more optional fields, ended by the ` - ` separator (8).
 * Fields are space-separated; space, tab, newline and backslash inside a field
 * are written as octal escapes (`\040`, `\011`, `\012`, `\134`).
 */
import type { MountEntry } from '../../protocol/index.js';

/** Decode the kernel's octal escapes (`\040` → space). Other backslashes are kept. */
export function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Parse one line; null when it is not a valid mountinfo line (blank or truncated). */
export function parseMountinfoLine(line: string): MountEntry | null {
  const f = line.trim().split(' ');
  const sep = f.indexOf('-', 6);
  if (f.length < 10 || sep < 0 || f.length < sep + 4) return null;
  const id = Number(f[0]);
  const parentId = Number(f[1]);
  if (!Number.isInteger(id) || !Number.isInteger(parentId)) return null;
  return {
    id,
    parentId,
    dev: f[2]!,
    root: unescapeMountField(f[3]!),
    mountPoint: unescapeMountField(f[4]!),
    options: f[5]!.split(','),
    optionalFields: f.slice(6, sep),
    fsType: unescapeMountField(f[sep + 1]!),
    source: unescapeMountField(f[sep + 2]!),
    superOptions: f
      .slice(sep + 3)
      .join(' ')
      .split(','),
  };
}

/** Parse the whole file; lines that do not parse are skipped. */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const e = parseMountinfoLine(line);
    if (e) out.push(e);
  }
  return out;
}

/**
 * The mount holding `path` (an absolute, symlink-free path): the longest
 * mount point that is `path` or an ancestor of it; among equal mount points
 * the last one listed, which is the one on top (over-mounts come later).
 */
export function mountFor(mounts: readonly MountEntry[], path: string): MountEntry | null {
  let best: MountEntry | null = null;
  for (const m of mounts) {
    const mp = m.mountPoint;
    const inside = mp === '/' || path === mp || path.startsWith(mp.endsWith('/') ? mp : mp + '/');
    if (inside && (!best || mp.length >= best.mountPoint.length)) best = m;
  }
  return best;
}

/** Network and parallel filesystems: mounted on every node of a cluster as a rule. */
const SHARED_TYPES = new Set([
  'nfs',
  'nfs4',
  'lustre',
  'gpfs',
  'beegfs',
  'ceph',
  'cephfs',
  'fuse.ceph',
  'panfs',
  'glusterfs',
  'fuse.glusterfs',
  'cifs',
  'smb3',
  'afs',
  'wekafs',
  'pvfs2',
  'orangefs',
  'fuse.sshfs',
  'virtiofs',
]);
/** Disk or memory filesystems of this machine alone. */
const LOCAL_TYPES = new Set(['tmpfs', 'ext2', 'ext3', 'ext4', 'xfs', 'btrfs', 'zfs', 'overlay', 'squashfs', 'devtmpfs', 'ramfs', 'vfat', 'f2fs']);

/** Guess whether a filesystem type is shared between nodes. null: unknown type. */
export function guessShared(fsType: string): { shared: boolean | null; reason: string } {
  if (SHARED_TYPES.has(fsType)) return { shared: true, reason: `${fsType} is a network/parallel filesystem (guess)` };
  if (LOCAL_TYPES.has(fsType)) return { shared: false, reason: `${fsType} is a local filesystem (guess)` };
  return { shared: null, reason: `unknown filesystem type ${fsType}` };
}

/** Types worth reporting as scratch even when no convention names their mount point. */
export const PARALLEL_TYPES: ReadonlySet<string> = new Set(['lustre', 'gpfs', 'beegfs', 'ceph', 'cephfs', 'panfs', 'wekafs', 'glusterfs', 'fuse.glusterfs']);
