import { mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeRegistryEntry } from '../../agent/host-registry.js';
import { pruneOldBuilds } from '../../agent/prune-builds.js';

const root = mkdtempSync('/tmp/clx-prune-');
afterAll(() => rmSync(root, { recursive: true, force: true }));

const DAY = 24 * 3600_000;
const now = Date.now();
function build(name: string, ageMs: number): void {
  const d = join(root, 'agent', name);
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'agent.mjs'), '//');
  const t = (now - ageMs) / 1000;
  utimesSync(d, t, t);
}

describe('old agent builds', () => {
  it('removes builds nothing needs: keeps its own, registered ones, the 3 newest, and any from the last day', () => {
    const id = (n: number) => n.toString(16).padStart(16, '0');
    for (let i = 1; i <= 8; i++) build(id(i), i * 2 * DAY); // id(1) newest … id(8) oldest
    build('test', 100 * DAY); // not a build id: never touched
    writeRegistryEntry(root, 'login2', { host: 'login2', pid: 1, build: id(7), socket: '/x', startedAt: 0 });
    const removed = pruneOldBuilds(root, id(6), now);
    expect(removed.sort()).toEqual([id(4), id(5), id(8)]);
    expect(readdirSync(join(root, 'agent')).sort()).toEqual([id(1), id(2), id(3), id(6), id(7), 'test'].sort());
    // A build installed a minute ago is kept and pushes the oldest of the 3 newest out.
    build(id(9), 60_000);
    expect(pruneOldBuilds(root, id(6), now)).toEqual([id(3)]);
    expect(readdirSync(join(root, 'agent'))).toContain(id(9));
  });
});
