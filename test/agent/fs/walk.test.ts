import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { walk, type WalkOptions } from '../../../agent/fs/walk.js';
import type { FileType } from '../../../protocol/index.js';
import { makeTree, removeTree, tempDir } from '../../support/trees.js';
import { turns } from './helpers.js';

let home: string;
let root: string;
const ENTRIES = 2000;

beforeAll(() => {
  home = tempDir('clx-walk-');
  root = join(home, 't');
  makeTree(root, { entries: ENTRIES, maxFileBytes: 0 });
  mkdirSync(join(home, 'one'));
  writeFileSync(join(home, 'one', 'f'), '');
});
afterAll(() => removeTree(home));

function opts(over: Partial<WalkOptions>): WalkOptions {
  return {
    root: { io: root, shown: root },
    follow: false,
    xdev: false,
    maxDepth: Infinity,
    statAll: false,
    signal: new AbortController().signal,
    timeLimitMs: 60_000,
    what: 'test',
    onEntry: () => undefined,
    onError: () => undefined,
    ...over,
  };
}

describe('walk', () => {
  it('starts no I/O while the consumer pushes back, and resumes when it is ready', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const seen: string[] = [];
    let rootSeen!: () => void;
    const gotRoot = new Promise<void>((r) => (rootSeen = r));
    const w = walk(
      opts({
        onEntry: (e) => {
          seen.push(e.path);
          if (seen.length > 1) return undefined;
          rootSeen();
          return gate;
        },
      }),
    );
    await gotRoot;
    await turns(50); // every chance for a walk that ignored the pushback to read on
    expect(seen).toEqual([root]); // the root, then nothing: no readdir was started
    expect(w.visited).toBe(1);
    release();
    const r = await w.done;
    expect(r).toMatchObject({ visited: ENTRIES + 1, errors: 0, stopped: false });
    expect(new Set(seen).size).toBe(ENTRIES + 1);
  });

  it('stop() ends the walk early with stopped: true and no more entries', async () => {
    let n = 0;
    const w = walk(
      opts({
        onEntry: () => {
          if (++n === 100) w.stop();
        },
      }),
    );
    const r = await w.done;
    expect(r.stopped).toBe(true);
    await turns();
    expect(n).toBe(100);
  });

  it('walks the whole tree with a single call in flight', async () => {
    const seen: FileType[] = [];
    const r = await walk(opts({ concurrency: 1, onEntry: (e) => void seen.push(e.type) })).done;
    expect(r.visited).toBe(ENTRIES + 1);
    expect(seen.filter((t) => t === 'dir').length).toBeGreaterThan(10);
  });

  it('maxDepth 1 reads only the root directory', async () => {
    const seen: number[] = [];
    await walk(opts({ maxDepth: 1, onEntry: (e) => void seen.push(e.depth) })).done;
    expect(Math.max(...seen)).toBe(1);
  });

  it('statAll gives every entry its lstat', async () => {
    const seen: [string, string, number | undefined][] = [];
    await walk(opts({ root: { io: join(home, 'one'), shown: 'one' }, statAll: true, onEntry: (e) => void seen.push([e.path, e.type, e.stats?.size]) })).done;
    expect(seen).toEqual([
      ['one', 'dir', statSync(join(home, 'one')).size],
      ['one/f', 'file', 0],
    ]);
  });

  it('a consumer that throws fails the walk with its error', async () => {
    const boom = new Error('boom');
    await expect(
      walk(
        opts({
          onEntry: (e) => {
            if (e.depth === 1) throw boom;
          },
        }),
      ).done,
    ).rejects.toBe(boom);
  });
});
