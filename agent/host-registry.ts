/**
 * Registry of running agents on the shared root, one file per login node, so
 * `clustrix agent stop` can find (and a user can see) agents on every node
 * behind a round-robin DNS name. Advisory only: the lock in the node-local run
 * dir is the truth about a node.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface HostEntry {
  host: string;
  pid: number;
  build: string;
  socket: string;
  startedAt: number;
}

function dir(root: string): string {
  return join(root, 'agents');
}

export function writeRegistryEntry(root: string, host: string, e: HostEntry): void {
  try {
    mkdirSync(dir(root), { recursive: true, mode: 0o700 });
    const file = join(dir(root), `${host}.json`);
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(e), { mode: 0o600 });
    renameSync(tmp, file);
  } catch {
    /* advisory: a read-only or full root must not stop the agent */
  }
}

export function removeRegistryEntry(root: string, host: string, pid: number): void {
  const file = join(dir(root), `${host}.json`);
  try {
    const e = JSON.parse(readFileSync(file, 'utf8')) as HostEntry;
    if (e.pid === pid) unlinkSync(file);
  } catch {
    /* gone or foreign */
  }
}

export function listRegistry(root: string): HostEntry[] {
  let names: string[];
  try {
    names = readdirSync(dir(root));
  } catch {
    return [];
  }
  const out: HostEntry[] = [];
  for (const n of names) {
    if (!n.endsWith('.json')) continue;
    try {
      out.push(JSON.parse(readFileSync(join(dir(root), n), 'utf8')) as HostEntry);
    } catch {
      /* half-written or foreign */
    }
  }
  return out;
}
