/**
 * The compute-node half of the storage probe: a POSIX sh script, fixed text,
 * that receives everything variable as arguments:
 *
 *   /bin/sh -c PROBE_SH clustrix-probe <nonce> <tries> <dir>...
 *
 * No path is ever part of the script text; the jobs layer single-quotes each
 * argv word into the job wrapper (agent/jobs/wrapper.ts `sq`), and the
 * wrapper is copied by the scheduler at submit time. So the probe needs
 * nothing from the clustrix root on the compute node: not its job dir, not a
 * script file there (which is why this is a `command`, not a `script` job).
 *
 * For each dir, in order, it checks the login node's marker
 * `<dir>/.clustrix-probe-<nonce>` (exists, content `clustrix-probe <nonce>`),
 * looking again up to <tries> times a second apart for the ones it has not
 * seen yet (NFS attribute caches hide new files for seconds). Then it writes
 * its own marker `<dir>/.clustrix-probe-<nonce>.seen` (0600, temp + rename)
 * into every dir it can:
 *
 *   {"host":"c042","saw":true,"index":0,"all":"101"}
 *
 * `saw` is what it found in that dir, `all` what it found in every dir (one
 * 0/1 per dir, in argument order), so ONE marker that reaches the login node
 * reports on every location. It also removes probe markers of ours older
 * than a day in those dirs: markers a probe left on a compute node's local
 * disk cannot be removed from the login node, and no live probe is that old.
 * It always exits 0 when it got to the end: "the job completed" then means
 * "the probe ran".
 */
import { parseJsonRecord } from '../../protocol/index.js';

/** The login node's marker name in a probed dir. */
export function loginMarkerName(nonce: string): string {
  return `.clustrix-probe-${nonce}`;
}

/** The compute node's marker name in a probed dir. */
export function computeMarkerName(nonce: string): string {
  return `.clustrix-probe-${nonce}.seen`;
}

/** What the login node writes into its marker, and the compute node compares. */
export function loginMarkerContent(nonce: string): string {
  return `clustrix-probe ${nonce}\n`;
}

/** Looks at the login markers on the compute node, a second apart, before declaring one unseen. Default. */
export const PROBE_LOOK_TRIES = 5;

/** The fixed script. `$0` is a label; `$1` the nonce; `$2` the number of looks; the rest the dirs. */
export const PROBE_SH = `n=$1; tries=$2; shift 2
case $n in ''|*[!0-9a-f]*) echo "clustrix probe: bad nonce" >&2; exit 2 ;; esac
case $tries in ''|*[!0-9]*) tries=1 ;; esac
host=$(uname -n 2>/dev/null | tr -cd 'A-Za-z0-9._-')
uid=$(id -u)
want="clustrix-probe $n"
look=1
while :; do
  saw=''; missing=0
  for d in "$@"; do
    if [ "$(cat -- "$d/.clustrix-probe-$n" 2>/dev/null)" = "$want" ]; then saw="\${saw}1"; else saw="\${saw}0"; missing=1; fi
  done
  if [ "$missing" = 0 ] || [ "$look" -ge "$tries" ]; then break; fi
  look=$((look + 1))
  sleep 1
done
i=0
for d in "$@"; do
  i=$((i + 1))
  for f in "$d"/.clustrix-probe-*; do
    case $f in "$d/.clustrix-probe-$n"*) continue ;; esac
    if [ -f "$f" ] && [ -n "$(find "$f" -prune -user "$uid" -mmin +1440 2>/dev/null)" ]; then rm -f -- "$f"; fi
  done
  if [ "$(printf '%s' "$saw" | cut -c "$i")" = 1 ]; then b=true; else b=false; fi
  f="$d/.clustrix-probe-$n.seen"
  if (umask 077 && printf '{"host":"%s","saw":%s,"index":%d,"all":"%s"}\\n' "$host" "$b" "$((i - 1))" "$saw" >"$f.tmp.$$") 2>/dev/null; then
    mv -f -- "$f.tmp.$$" "$f" 2>/dev/null || rm -f -- "$f.tmp.$$"
  fi
done
exit 0
`;

/** The probe job's argv: sh runs the fixed script; the nonce, looks and dirs are arguments. */
export function probeArgv(nonce: string, dirs: readonly string[], tries = PROBE_LOOK_TRIES): string[] {
  if (!/^[0-9a-f]+$/.test(nonce)) throw new Error(`probe nonce must be lowercase hex, got ${JSON.stringify(nonce)}`);
  for (const d of dirs) if (!d.startsWith('/') || d.includes('\0')) throw new Error(`probe dirs must be absolute paths without NUL: ${JSON.stringify(d)}`);
  return ['/bin/sh', '-c', PROBE_SH, 'clustrix-probe', nonce, String(tries), ...dirs];
}

/** A compute node's marker, as parsed by the login node. */
export interface ComputeMarker {
  host: string;
  saw: boolean;
  index: number;
  /** One 0/1 per probed dir, in argument order. */
  all: string;
}

/** Parse a `.seen` marker; null when it is not one the probe script writes. */
export function parseComputeMarker(text: string): ComputeMarker | null {
  const o = parseJsonRecord(text);
  if (!o || typeof o.host !== 'string' || typeof o.saw !== 'boolean' || typeof o.index !== 'number' || typeof o.all !== 'string') return null;
  if (!/^[01]*$/.test(o.all)) return null;
  return { host: o.host, saw: o.saw, index: o.index, all: o.all };
}
