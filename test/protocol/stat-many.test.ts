import { describe, expect, it } from 'vitest';
import { decodeAgentFrame, DEFAULT_LIMITS, encodeFrame, FAILED, ProtocolError, readStatMany, STAT_MANY_FIELDS, StatManyWriter } from '../../protocol/index.js';

const overTheWire = (r: unknown): unknown => {
  const f = decodeAgentFrame(encodeFrame({ t: 'res', id: 1, r }), DEFAULT_LIMITS.maxFrameBytes);
  return f.t === 'res' ? f.r : undefined;
};

describe('statMany answers', () => {
  it('carry each slot back as a FileInfo or an error, names once per id', () => {
    const w = new StatManyWriter(3);
    const n = STAT_MANY_FIELDS.length;
    const values = [0o100644, 1, 1000, 100, 5, 8, 42, 7, 1.5, 2.5, 3.5, 0o120777, 1, 1000, 100, 4, 0, 43, 7, 1, 2, 3];
    w.set(2, 'symlink', values, n);
    w.set(0, 'file', values, 0);
    w.target(2, 'file');
    w.fail(1, { code: 'ENOENT', message: 'stat /x: no such file or directory' });
    w.user(1000, 'me');
    const items = readStatMany(overTheWire(w.result()), 3);
    expect(items).toEqual([
      {
        type: 'file',
        size: 5,
        blocks: 8,
        mode: 0o100644,
        uid: 1000,
        gid: 100,
        owner: 'me',
        nlink: 1,
        ino: 42,
        dev: 7,
        mtimeMs: 1.5,
        atimeMs: 2.5,
        ctimeMs: 3.5,
      },
      { error: { code: 'ENOENT', message: 'stat /x: no such file or directory' } },
      {
        type: 'symlink',
        size: 4,
        blocks: 0,
        mode: 0o120777,
        uid: 1000,
        gid: 100,
        owner: 'me',
        nlink: 1,
        ino: 43,
        dev: 7,
        mtimeMs: 1,
        atimeMs: 2,
        ctimeMs: 3,
        target: 'file',
      },
    ]);
  });

  it.each<[string, unknown, number]>([
    ['not a map', 7, 1],
    ['too few types', { types: new Uint8Array(1), fields: new Array(STAT_MANY_FIELDS.length).fill(0) }, 2],
    ['too few fields', { types: new Uint8Array(1), fields: [1] }, 1],
    ['a failed slot without its error', { types: new Uint8Array([FAILED]), fields: new Array(STAT_MANY_FIELDS.length).fill(0) }, 1],
    ['an unknown type', { types: new Uint8Array([99]), fields: new Array(STAT_MANY_FIELDS.length).fill(0) }, 1],
  ])('are refused when malformed (%s)', (_why, r, n) => {
    expect(() => readStatMany(r, n)).toThrow(ProtocolError);
  });
});
