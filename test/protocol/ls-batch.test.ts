/** fs.ls column batches (protocol/ls-batch.ts): what they carry through the frame codec, and what is refused. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeAgentFrame,
  DEFAULT_LIMITS,
  encodeFrame,
  FILE_TYPES,
  LsBatchWriter,
  ProtocolError,
  readLsBatch,
  STAT_MANY_FIELDS,
  type DirEntry,
  type FileType,
  type WireError,
} from '../../protocol/index.js';

const MAX = DEFAULT_LIMITS.maxFrameBytes;

/** Through the frame codec and back, as the client receives a chunk. */
function overTheWire(d: unknown): unknown {
  const f = decodeAgentFrame(encodeFrame({ t: 'chunk', id: 1, d }), MAX);
  if (f.t !== 'chunk') throw new Error('not a chunk');
  return f.d;
}

/** An entry as the agent knows it before writing: name, d_type, raw bytes; with stat, its lstat or its error. */
interface Known {
  name: string;
  type: FileType;
  raw?: Uint8Array;
  st?: { type: FileType; values: number[]; owner?: string; group?: string; target?: string; targetRaw?: Uint8Array };
  error?: WireError;
}

function write(entries: Known[], withStat: boolean) {
  const w = new LsBatchWriter(withStat);
  for (const e of entries) {
    const i = w.add(e.name, e.type, e.raw);
    if (!withStat) continue;
    if (e.error) w.stat.fail(i, e.error);
    else {
      const s = e.st!;
      w.stat.set(i, s.type, s.values, 0);
      if (s.owner !== undefined) w.stat.user(s.values[2]!, s.owner);
      if (s.group !== undefined) w.stat.group(s.values[3]!, s.group);
      if (s.target !== undefined) w.stat.target(i, s.target, s.targetRaw);
    }
  }
  return w.take();
}

/** What the client must end up with for an entry. */
function expected(e: Known, withStat: boolean): DirEntry {
  const d: DirEntry = { name: e.name, type: e.type };
  // Bytes come back as Buffers (msgpack bin).
  if (e.raw) d.raw = Buffer.from(e.raw);
  if (!withStat) return d;
  if (e.error) return { ...d, error: e.error };
  const s = e.st!;
  const v = Object.fromEntries(STAT_MANY_FIELDS.map((k, i) => [k, s.values[i]]));
  Object.assign(d, v, { type: s.type });
  if (s.owner !== undefined) d.owner = s.owner;
  if (s.group !== undefined) d.group = s.group;
  if (s.target !== undefined) d.target = s.target;
  if (s.targetRaw !== undefined) d.targetRaw = Buffer.from(s.targetRaw);
  return d;
}

describe('ls batches', () => {
  it('names and types only: NUL-joined names, a byte of type each', () => {
    const b = write(
      [
        { name: 'a', type: 'file' },
        { name: 'sub', type: 'dir' },
      ],
      false,
    );
    expect(b).toEqual({ names: 'a\0sub', types: new Uint8Array([0, 1]) });
    expect(readLsBatch(overTheWire(b))).toEqual([
      { name: 'a', type: 'file' },
      { name: 'sub', type: 'dir' },
    ]);
  });

  it('carries every entry back exactly: stat fields, owner and group names once per id, targets, raw names, errors', () => {
    const raw = Buffer.from([0x78, 0xff]);
    const entries: Known[] = [
      { name: 'f', type: 'file', st: { type: 'file', values: [0o100644, 1, 1000, 100, 5, 8, 77, 3, 1.5, 2.5, 3.5], owner: 'me', group: 'us' } },
      { name: 'l', type: 'symlink', st: { type: 'symlink', values: [0o120777, 1, 1000, 100, 4, 0, 78, 3, 1, 2, 3], owner: 'me', group: 'us', target: 'f' } },
      { name: 'x\uFFFD', type: 'file', raw, st: { type: 'file', values: [0o100600, 2, 0, 0, 0, 0, 79, 3, 1, 2, 3] } },
      { name: 'gone', type: 'file', error: { code: 'ENOENT', message: 'lstat /d/gone: no such file or directory' } },
      // d_type unknown (some filesystems): lstat's type wins.
      { name: 'u', type: 'unknown', st: { type: 'dir', values: [0o40755, 2, 1000, 100, 4096, 8, 80, 3, 1, 2, 3], owner: 'me', group: 'us' } },
    ];
    const b = write(entries, true);
    expect(b.stat!.users).toEqual([[1000, 'me']]);
    expect(readLsBatch(overTheWire(b))).toEqual(entries.map((e) => expected(e, true)));
  });

  it('any batch comes back as written (property)', () => {
    const type = fc.constantFrom(...FILE_TYPES);
    const name = fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !s.includes('\0') && !s.includes('/'));
    const values = fc.tuple(...STAT_MANY_FIELDS.map(() => fc.oneof(fc.nat(), fc.double({ min: 0, max: 2e12, noNaN: true }))));
    const known: fc.Arbitrary<Known> = fc.record(
      {
        name,
        type,
        raw: fc.uint8Array({ minLength: 1, maxLength: 6 }),
        st: fc.record({ type, values, owner: fc.constantFrom('me', 'root'), target: fc.string() }, { requiredKeys: ['type', 'values'] }),
        error: fc.record({ code: fc.constantFrom('ENOENT', 'EACCES'), message: fc.string() }),
      },
      { requiredKeys: ['name', 'type'] },
    );
    fc.assert(
      fc.property(fc.array(known, { maxLength: 40 }), fc.boolean(), (entries, withStat) => {
        // Entries without stat in a stat batch fail; owner names go with their uid, so one name per uid.
        const fixed = entries.map((e, i): Known => {
          if (!withStat) return { name: e.name, type: e.type, ...(e.raw ? { raw: e.raw } : {}) };
          if (e.error || !e.st) return { ...e, st: undefined, error: e.error ?? { code: 'ENOENT', message: 'x' } };
          const st = { ...e.st, values: [...e.st.values] };
          st.values[2] = i; // its own uid
          st.values[3] = i;
          return { ...e, st, error: undefined };
        });
        const got = readLsBatch(overTheWire(write(fixed, withStat)));
        expect(got).toEqual(fixed.map((e) => expected(e, withStat)));
      }),
      { numRuns: 200 },
    );
  });

  it('refuses malformed batches with PROTOCOL', () => {
    const good = write([{ name: 'a', type: 'file', st: { type: 'file', values: [0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0] } }], true);
    const bad: unknown[] = [
      null,
      [],
      { names: 'a' },
      { names: 'a\0b', types: new Uint8Array([0]) },
      { names: 'a', types: new Uint8Array([99]) },
      { names: 'a', types: new Uint8Array([0]), raw: [[5, new Uint8Array([1])]] },
      { names: 'a', types: new Uint8Array([0]), raw: 'x' },
      { ...good, stat: { ...good.stat, fields: [1, 2] } },
      { ...good, stat: { types: new Uint8Array([255]), fields: good.stat!.fields } }, // failed without an error
    ];
    for (const b of bad) {
      expect(() => readLsBatch(b), JSON.stringify(b)).toThrow(ProtocolError);
      expect(() => readLsBatch(b)).toThrow(/bad fs.ls batch/);
    }
  });
});
