import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeAgentFrame,
  DEFAULT_LIMITS,
  encodeFrame,
  FILE_TYPES,
  FindBatchWriter,
  ProtocolError,
  readFindBatch,
  type FindEntry,
} from '../../protocol/index.js';

const MAX = DEFAULT_LIMITS.maxFrameBytes;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Through the frame codec and back, as the client receives a chunk. */
function overTheWire(d: unknown): unknown {
  const f = decodeAgentFrame(encodeFrame({ t: 'chunk', id: 1, d }), MAX);
  if (f.t !== 'chunk') throw new Error('not a chunk');
  return f.d;
}

describe('find batches', () => {
  it('encode as columns: each prefix once, NUL-joined names, type indexes as bytes, depths (golden)', () => {
    const w = new FindBatchWriter();
    const dir = '/r/';
    w.add('', '/r', 'dir', 0);
    w.add(dir, 'a', 'file', 1);
    w.add(dir, 'b', 'symlink', 1);
    expect(w.take()).toEqual({ prefixes: '\0/r/', dirs: [0, 1, 1], names: '/r\0a\0b', types: new Uint8Array([1, 0, 2]), depths: [0, 1, 1] });
    w.add('', '/r', 'dir', 0);
    w.add(dir, 'a', 'file', 1);
    expect(hex(encodeFrame({ t: 'chunk', id: 1, d: w.take() }))).toBe(
      // {t:'chunk', id:1, d:{prefixes:'\0/r/', dirs:[0,1], names:'/r\0a', types:bin[1,0], depths:[0,1]}}
      '83a174a56368756e6ba2696401a16485' +
        'a87072656669786573a4002f722f' +
        'a464697273920001' +
        'a56e616d6573a42f720061' +
        'a57479706573c4020100' +
        'a6646570746873920001',
    );
  });

  it('carry every entry back exactly, errors, raw bytes and stat fields included', () => {
    const w = new FindBatchWriter();
    const raw = Buffer.from([0x2f, 0x72, 0x2f, 0xff]);
    w.add('', '/r', 'dir', 0, undefined, undefined, {
      size: 4096,
      blocks: 8,
      mode: 0o40755,
      uid: 1,
      gid: 2,
      owner: 'u',
      nlink: 2,
      ino: 9,
      dev: 3,
      mtimeMs: 1,
      atimeMs: 2,
      ctimeMs: 3,
    });
    w.add('/r/', '\uFFFD', 'file', 1, raw, { code: 'ENOENT', message: 'lstat /r/\uFFFD: no such file or directory' });
    w.add('/r/', 'new\nline', 'symlink', 1, undefined, undefined, {
      size: 1,
      blocks: 0,
      mode: 0o120777,
      uid: 1,
      gid: 2,
      nlink: 1,
      ino: 10,
      dev: 3,
      mtimeMs: 1,
      atimeMs: 2,
      ctimeMs: 3,
    });
    expect(w.length).toBe(3);
    const got = readFindBatch(overTheWire(w.take()));
    expect(w.length).toBe(0);
    expect(got).toEqual<FindEntry[]>([
      {
        path: '/r',
        type: 'dir',
        depth: 0,
        size: 4096,
        blocks: 8,
        mode: 0o40755,
        uid: 1,
        gid: 2,
        owner: 'u',
        nlink: 2,
        ino: 9,
        dev: 3,
        mtimeMs: 1,
        atimeMs: 2,
        ctimeMs: 3,
      },
      { path: '/r/\uFFFD', type: 'file', depth: 1, raw, error: { code: 'ENOENT', message: 'lstat /r/\uFFFD: no such file or directory' } },
      {
        path: '/r/new\nline',
        type: 'symlink',
        depth: 1,
        size: 1,
        blocks: 0,
        mode: 0o120777,
        uid: 1,
        gid: 2,
        nlink: 1,
        ino: 10,
        dev: 3,
        mtimeMs: 1,
        atimeMs: 2,
        ctimeMs: 3,
      },
    ]);
  });

  it('round-trip any entries (property)', () => {
    const entry = fc.record({
      path: fc.string({ unit: 'grapheme' }).filter((s) => !s.includes('\0')),
      type: fc.constantFrom(...FILE_TYPES),
      depth: fc.nat(5000),
    });
    fc.assert(
      fc.property(fc.array(entry, { minLength: 1, maxLength: 40 }), (entries) => {
        const w = new FindBatchWriter();
        for (const e of entries) {
          const cut = e.path.lastIndexOf('/') + 1;
          w.add(e.path.slice(0, cut), e.path.slice(cut), e.type, e.depth);
        }
        expect(readFindBatch(overTheWire(w.take()))).toEqual(entries);
      }),
    );
  });

  it('a root printed as the empty string is one entry, not none', () => {
    const w = new FindBatchWriter();
    w.add('', '', 'dir', 0);
    expect(readFindBatch(overTheWire(w.take()))).toEqual([{ path: '', type: 'dir', depth: 0 }]);
  });

  const one = { prefixes: '/r/', dirs: [0], names: 'a', types: new Uint8Array(1), depths: [0] };
  it.each<[string, unknown]>([
    ['not a map', [1, 2]],
    ['names missing', { prefixes: '', dirs: [0], types: new Uint8Array(1), depths: [0] }],
    ['fewer names than types', { ...one, types: new Uint8Array(2), depths: [0, 1] }],
    ['an unknown type index', { ...one, types: new Uint8Array([42]) }],
    ['a depth that is not a number', { ...one, depths: ['x'] }],
    ['a prefix index out of range', { ...one, dirs: [1] }],
    ['a raw index out of range', { ...one, raw: [[3, new Uint8Array(1)]] }],
    ['an error without a message', { ...one, errors: [[0, { code: 'EIO' }]] }],
    ['stat with the wrong length', { ...one, stat: [] }],
  ])('refuse a malformed batch (%s) with a protocol error', (_why, b) => {
    expect(() => readFindBatch(b)).toThrow(ProtocolError);
  });
});
