/**
 * jobs.progress: tail the JSON-lines event files a job's tasks append to
 * (`<jobDir>/tasks/<task>.events`, exported to the job as $CLUSTRIX_EVENTS).
 *
 * Polling, not fs.watch: the files are written on compute nodes, and inotify
 * sees nothing of writes made by another NFS/Lustre client. Each pass lists
 * the tasks dir (which also revalidates NFS attribute caches), reads what
 * each event file grew by, and sends the complete lines. Once the job is
 * terminal, two more passes a little apart catch lines that land late.
 */
import { closeSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MAX_PROGRESS_LINE_BYTES, ProtocolError, type ProgressEvent } from '../../protocol/index.js';

/** Bytes read from one file per pass at most (the rest comes next pass). */
const READ_PER_PASS = 1 << 20;
/** Events per chunk at most. */
const MAX_BATCH = 2000;

export interface TailOptions {
  jobDir: string;
  /** Only this task key ("job" or an index). */
  task?: string;
  follow: boolean;
  /** Task key → first seq to send. */
  after?: Record<string, number>;
  /** Is the job (or the one watched task) finished? Checked between passes. */
  done(): boolean;
  signal: AbortSignal;
  /** Poll interval: starts at `minMs`, doubles while nothing changes, up to `maxMs`. */
  minMs?: number;
  maxMs?: number;
}

interface FileState {
  offset: number;
  seq: number;
  partial: Buffer;
}

/** Parse one line (without its newline). */
export function parseEventLine(line: Buffer, key: string, seq: number): ProgressEvent {
  const ev: ProgressEvent = { seq, data: null };
  if (key !== 'job') ev.task = Number(key);
  if (line.length > MAX_PROGRESS_LINE_BYTES) {
    ev.raw = line.subarray(0, MAX_PROGRESS_LINE_BYTES).toString('utf8');
    return ev;
  }
  const text = line.toString('utf8');
  try {
    const v = JSON.parse(text) as unknown;
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && (v as Record<string, unknown>)['$clustrix'] === 1) {
      const env = v as { data?: unknown; at?: unknown; item?: unknown };
      ev.data = env.data ?? null;
      if (typeof env.at === 'number' && Number.isFinite(env.at)) ev.at = env.at;
      if (typeof env.item === 'number' && Number.isInteger(env.item) && env.item >= 0) ev.item = env.item;
    } else ev.data = v;
  } catch {
    ev.raw = text;
  }
  return ev;
}

/** Split what was read into complete lines; the incomplete tail stays in `st.partial`. */
function takeLines(st: FileState, chunk: Buffer, key: string, out: ProgressEvent[], final: boolean): void {
  let buf = st.partial.length ? Buffer.concat([st.partial, chunk]) : chunk;
  let start = 0;
  for (;;) {
    const nl = buf.indexOf(0x0a, start);
    if (nl < 0) break;
    const line = buf.subarray(start, nl);
    start = nl + 1;
    if (line.length === 0) continue;
    out.push(parseEventLine(line, key, st.seq++));
  }
  buf = buf.subarray(start);
  if (final && buf.length > 0) {
    out.push(parseEventLine(buf, key, st.seq++));
    buf = Buffer.alloc(0);
  }
  // Keep a runaway line bounded: past the cap it is cut and reported raw.
  if (buf.length > MAX_PROGRESS_LINE_BYTES) {
    out.push(parseEventLine(buf, key, st.seq++));
    buf = Buffer.alloc(0);
  }
  st.partial = Buffer.from(buf);
}

function readGrowth(path: string, from: number): Buffer | null {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    return null;
  }
  if (size <= from) return null;
  const fd = openSync(path, 'r');
  try {
    const n = Math.min(size - from, READ_PER_PASS);
    const buf = Buffer.alloc(n);
    const got = readSync(fd, buf, 0, n, from);
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });

/**
 * Stream a job's progress events through `send` (which waits for the
 * client's flow-control credit). Resolves with the number of events sent.
 */
export async function tailProgress(o: TailOptions, send: (batch: ProgressEvent[]) => Promise<void>): Promise<{ events: number }> {
  const dir = join(o.jobDir, 'tasks');
  const files = new Map<string, FileState>();
  const minMs = o.minMs ?? 250;
  const maxMs = o.maxMs ?? 2000;
  let interval = minMs;
  let sent = 0;
  let finalPasses = -1;
  for (;;) {
    if (o.signal.aborted) throw new ProtocolError('CANCELLED', 'jobs.progress cancelled');
    const finishedBefore = o.done();
    const last = finalPasses === 0 || !o.follow;
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      /* not created yet */
    }
    const out: ProgressEvent[] = [];
    for (const name of names) {
      if (!name.endsWith('.events')) continue;
      const key = name.slice(0, -'.events'.length);
      if (key !== 'job' && !/^\d+$/.test(key)) continue;
      if (o.task !== undefined && key !== o.task) continue;
      let st = files.get(key);
      if (!st) {
        st = { offset: 0, seq: 0, partial: Buffer.alloc(0) };
        files.set(key, st);
      }
      // Read until caught up (bounded per pass), so a burst does not wait a whole interval per MiB.
      for (let rounds = 0; rounds < 16; rounds++) {
        const grown = readGrowth(join(dir, name), st.offset);
        if (!grown || grown.length === 0) break;
        st.offset += grown.length;
        takeLines(st, grown, key, out, false);
        if (grown.length < READ_PER_PASS) break;
      }
      if (last) takeLines(st, Buffer.alloc(0), key, out, true);
    }
    const skip = o.after;
    const fresh = skip ? out.filter((e) => e.seq >= (skip[e.task === undefined ? 'job' : String(e.task)] ?? 0)) : out;
    for (let i = 0; i < fresh.length; i += MAX_BATCH) {
      await send(fresh.slice(i, i + MAX_BATCH));
      sent += Math.min(MAX_BATCH, fresh.length - i);
    }
    if (last) return { events: sent };
    if (finishedBefore) {
      // Terminal: two more passes a little apart, for lines that reach this node late (NFS).
      finalPasses = finalPasses < 0 ? 1 : finalPasses - 1;
      await sleep(finalPasses === 1 ? 300 : 700, o.signal);
      continue;
    }
    interval = out.length > 0 ? minMs : Math.min(maxMs, interval * 2);
    await sleep(interval, o.signal);
  }
}
