/**
 * Quota from site tools. The parsers are pure (tested on recorded output);
 * `runQuotaTool` runs the tool with an argv and a short timeout.
 *
 *   lfs quota -u alice /lustre           (Lustre; kbytes, `*` marks over quota)
 *   quota -w -u                          (linuxquota; 1 KiB blocks; -w: no line wrap)
 *
 * A value may be followed by `*` (over the soft limit); `lfs` may wrap a long
 * filesystem name onto its own line, so the numbers are read as one token run.
 */
import { execFile } from 'node:child_process';
import type { Quota } from '../../protocol/index.js';

function num(tok: string | undefined): number | null {
  if (tok === undefined) return null;
  const n = Number(tok.replace(/\*$/, ''));
  return Number.isFinite(n) ? n : null;
}

/** Rows of a quota table: filesystem name and the numeric-ish tokens after it. */
function rows(text: string): Array<{ fs: string; vals: string[] }> {
  const out: Array<{ fs: string; vals: string[] }> = [];
  let pendingFs: string | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || /^Disk quotas for/i.test(line) || /^Filesystem\b/i.test(line)) continue;
    const toks = line.split(/\s+/);
    if (toks.length === 1 && num(toks[0]) === null) {
      pendingFs = toks[0]!; // long name wrapped onto its own line
      continue;
    }
    if (pendingFs !== null && num(toks[0]) !== null) {
      out.push({ fs: pendingFs, vals: toks });
      pendingFs = null;
      continue;
    }
    out.push({ fs: toks[0]!, vals: toks.slice(1) });
    pendingFs = null;
  }
  return out;
}

/**
 * Columns: used quota limit grace files quota limit grace. Grace columns may
 * be empty (quota) or `-` (lfs), so values are taken by position only when
 * they are numbers: blocks, soft, hard, then the next three numbers are files.
 */
function toQuota(tool: Quota['tool'], vals: string[]): Quota | null {
  const nums = vals.map(num);
  const [used, soft, hard] = nums;
  if (used == null || soft == null || hard == null) return null;
  // After the three block numbers an optional grace token (non-numeric like "6days", "-", or absent).
  let i = 3;
  if (vals[i] !== undefined && nums[i] === null) i++;
  const files = nums.slice(i, i + 3);
  return {
    tool,
    usedBytes: used * 1024,
    softLimitBytes: soft * 1024,
    hardLimitBytes: hard * 1024,
    usedFiles: files[0] ?? null,
    softLimitFiles: files[1] ?? null,
    hardLimitFiles: files[2] ?? null,
  };
}

/** `lfs quota -u USER MOUNT` output → the row for MOUNT (or the first row). */
export function parseLfsQuota(text: string, mountPoint: string): Quota | null {
  const rs = rows(text);
  const r = rs.find((x) => x.fs === mountPoint) ?? rs[0];
  return r ? toQuota('lfs', r.vals) : null;
}

/**
 * `quota -w -u` output → quota per filesystem name (a device such as
 * `/dev/sda1` or an NFS export such as `nfs01:/export/home`).
 */
export function parseQuotaW(text: string): Map<string, Quota> {
  const out = new Map<string, Quota>();
  for (const r of rows(text)) {
    const q = toQuota('quota', r.vals);
    if (q) out.set(r.fs, q);
  }
  return out;
}

export type ToolResult = { ok: true; stdout: string } | { ok: false; reason: string };

/** Run a quota tool: argv only, no shell, killed after `timeoutMs`. */
export function runQuotaTool(argv: readonly string[], timeoutMs: number): Promise<ToolResult> {
  return new Promise((resolve) => {
    execFile(argv[0]!, argv.slice(1), { timeout: timeoutMs, maxBuffer: 1 << 20, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (!err) return resolve({ ok: true, stdout });
      const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: string | number };
      if (e.code === 'ENOENT') return resolve({ ok: false, reason: `${argv[0]} not found` });
      if (e.killed) return resolve({ ok: false, reason: `${argv[0]} timed out after ${timeoutMs} ms` });
      // `quota` exits 1 when a user is over quota but still prints the table.
      if (stdout.trim()) return resolve({ ok: true, stdout });
      resolve({ ok: false, reason: `${argv.join(' ')} failed: ${(stderr || e.message).trim().split('\n').slice(-1)[0]}` });
    });
  });
}
