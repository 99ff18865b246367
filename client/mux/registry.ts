/** What a running mux writes beside its socket, for `clustrix mux list` (no secrets: the token stays in memory). */
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { processAlive } from '../local-trust.js';
import { muxDir } from './paths.js';

export interface MuxRecord {
  target: string;
  pid: number;
  socket: string;
  idleMs: number;
  startedAt: number;
  root?: string;
  runDir?: string;
}

const recordPath = (socket: string) => socket.replace(/\.sock$/, '.json');

export function writeMuxRecord(r: MuxRecord): void {
  writeFileSync(recordPath(r.socket), JSON.stringify(r), { mode: 0o600 });
}

export function removeMuxRecord(socket: string): void {
  rmSync(recordPath(socket), { force: true });
}

export function listMuxRecords(): MuxRecord[] {
  let names: string[];
  try {
    names = readdirSync(muxDir());
  } catch {
    return [];
  }
  const out: MuxRecord[] = [];
  for (const n of names.filter((x) => x.endsWith('.json'))) {
    let r: MuxRecord;
    try {
      r = JSON.parse(readFileSync(`${muxDir()}/${n}`, 'utf8')) as MuxRecord;
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
