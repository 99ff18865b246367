/** Small statistics and table helpers for the bench. */
export function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.round(q * (s.length - 1))));
  return s[i]!;
}
export const median = (xs: number[]) => quantile(xs, 0.5);

export interface Row {
  metric: string;
  ours: string;
  baseline: string;
  /** ours / baseline for times (lower is better), or as labelled. */
  ratio: string;
  goal: string;
}

export function fmtMs(ms: number): string {
  return ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : ms < 100 ? `${ms.toFixed(2)} ms` : `${ms.toFixed(0)} ms`;
}

export function ratio(a: number, b: number): string {
  return `${(a / b).toFixed(2)}×`;
}

/** One table of a bench part; `head` renames the columns (an empty name drops the column). */
export interface Table {
  title: string;
  rows: Row[];
  head?: Row;
}

const HEAD: Row = { metric: 'metric', ours: 'clustrix', baseline: 'baseline', ratio: 'ratio', goal: 'goal' };

/** A table with a title; a table without rows is just its title (a skipped part saying why). */
export function printTable(title: string, rows: Row[], head: Row = HEAD): void {
  if (rows.length === 0) return void process.stdout.write(`\n${title}\n`);
  const cols = (['metric', 'ours', 'baseline', 'ratio', 'goal'] as const).filter((c) => head[c] !== '');
  const all = [head, ...rows];
  const w = cols.map((c) => Math.max(...all.map((r) => r[c].length)));
  const line = (r: Row) => '| ' + cols.map((c, i) => r[c].padEnd(w[i]!)).join(' | ') + ' |';
  process.stdout.write(`\n${title}\n${line(head)}\n|${w.map((n) => '-'.repeat(n + 2)).join('|')}|\n${rows.map(line).join('\n')}\n`);
}

/** Run `fn` `rounds` times, interleaved with the others by the caller; collect durations. */
export async function timeIt(fn: () => Promise<unknown> | unknown): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}
