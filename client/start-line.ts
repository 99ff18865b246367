/**
 * Find the agent's start line in the output of `agent.mjs start`, skipping
 * whatever a login shell printed before it (banners, `module` chatter,
 * .bashrc echoes).
 */
import { START_LINE_MAGIC, type StartLineInfo } from '../protocol/index.js';

/** What `agent.mjs start` prints after the magic prefix. */
export type StartInfo = StartLineInfo;

export function parseStartOutput(stdout: string): StartInfo | null {
  for (const line of stdout.split(/\r?\n/)) {
    const at = line.indexOf(START_LINE_MAGIC);
    if (at < 0) continue;
    let v: unknown;
    try {
      v = JSON.parse(line.slice(at + START_LINE_MAGIC.length));
    } catch {
      continue;
    }
    if (isStartInfo(v)) return v;
  }
  return null;
}

/** The fields the client relies on (the start line's JSON, or the `info` of serve's readiness line). */
export function isStartInfo(v: unknown): v is StartInfo {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return (
    typeof o.socket === 'string' && typeof o.token === 'string' && typeof o.build === 'string' && typeof o.pid === 'number' && typeof o.protocol === 'number'
  );
}

/**
 * The readiness line `agent.mjs serve` writes on its ready fd,
 * `{"ok":true,"info":…}`: the agent's info (started now); null for anything
 * else (not ready: a racing starter holds the lock, it failed…).
 */
export function parseReadyLine(line: string): StartInfo | null {
  try {
    const m = JSON.parse(line) as { ok?: unknown; info?: unknown } | null;
    return m?.ok === true && isStartInfo(m.info) ? { ...m.info, started: true } : null;
  } catch {
    return null;
  }
}
