/** What a running mux writes beside its socket, for `clustrix mux list` (no secrets: the token stays in memory). */
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { processAlive } from '../local-trust.js';
import { muxDir, muxFile } from './paths.js';

export interface MuxRecord {
  target: string;
  pid: number;
  socket: string;
  idleMs: number;
  startedAt: number;
  root?: string;
  runDir?: string;
}

export function writeMuxRecord(r: MuxRecord): void {
  writeFileSync(muxFile(r.socket, '.json'), JSON.stringify(r), { mode: 0o600 });
}

export function removeMuxRecord(socket: string): void {
  rmSync(muxFile(socket, '.json'), { force: true });
}

export function listMuxRecords(): MuxRecord[] {
  const dir = muxDir();
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: MuxRecord[] = [];
  for (const n of names.filter((x) => x.endsWith('.json'))) {
    let r: MuxRecord;
    try {
      r = JSON.parse(readFileSync(`${dir}/${n}`, 'utf8')) as MuxRecord;
    } catch {
      continue; // torn or foreign
    }
    if (processAlive(r.pid)) out.push(r);
    else {
      // Killed without cleaning up: its record and socket are stale.
      removeMuxRecord(r.socket);
      rmSync(r.socket, { force: true });
    }
  }
  return out;
}
