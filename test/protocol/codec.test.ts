import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeAgentFrame, decodeClientFrame, DEFAULT_LIMITS, encodeFrame, ProtocolError, type AgentFrame, type ClientFrame } from '../../protocol/index.js';

const MAX = DEFAULT_LIMITS.maxFrameBytes;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('frame codec', () => {
  it('encodes frames to exact msgpack bytes (golden)', () => {
    // {t:'req', id:1, m:'fs.stat', p:{path:'/x'}} as a msgpack map
    expect(hex(encodeFrame({ t: 'req', id: 1, m: 'fs.stat', p: { path: '/x' } }))).toBe('84a174a3726571a2696401a16da766732e73746174a17081a470617468a22f78');
    expect(hex(encodeFrame({ t: 'cancel', id: 300 }))).toBe('82a174a663616e63656ca26964cd012c');
    expect(hex(encodeFrame({ t: 'ack', id: 7, n: 2 }))).toBe('83a174a361636ba2696407a16e02');
    expect(hex(encodeFrame({ t: 'err', id: 2, e: { code: 'ENOENT', message: 'no' } }))).toBe(
      '83a174a3657272a2696402a16582a4636f6465a6454e4f454e54a76d657373616765a26e6f',
    );
  });

  it('decodes golden bytes back to the same frames', () => {
    const req = Buffer.from('84a174a3726571a2696401a16da766732e73746174a17081a470617468a22f78', 'hex');
    expect(decodeClientFrame(req, MAX)).toEqual({ t: 'req', id: 1, m: 'fs.stat', p: { path: '/x' } });
  });

  it('carries raw bytes as binary, not strings', () => {
    const name = Buffer.from([0x66, 0xff, 0x6f]);
    const f = decodeAgentFrame(encodeFrame({ t: 'res', id: 1, r: { raw: name } }), MAX) as { r: { raw: Uint8Array } };
    expect(f.r.raw).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(f.r.raw).equals(name)).toBe(true);
  });

  const plain: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small' },
      fc.string(),
      fc.integer(),
      fc.double({ noNaN: true }),
      fc.boolean(),
      fc.constant(null),
      fc.uint8Array({ maxLength: 16 }),
      fc.array(tie('value'), { maxLength: 4 }),
      fc.dictionary(
        fc.string().filter((k) => k !== '__proto__'),
        tie('value'),
        { maxKeys: 4 },
      ),
    ),
  })).value;

  it('round-trips any well-formed client frame (property)', () => {
    const frame: fc.Arbitrary<ClientFrame> = fc.oneof(
      fc.record({ t: fc.constant('req' as const), id: fc.integer({ min: 1, max: 2 ** 53 - 1 }), m: fc.string({ minLength: 1, maxLength: 64 }), p: plain }),
      fc.record({ t: fc.constant('cancel' as const), id: fc.integer({ min: 1, max: 2 ** 53 - 1 }) }),
      fc.record({ t: fc.constant('ack' as const), id: fc.integer({ min: 1, max: 1e9 }), n: fc.integer({ min: 1, max: 1e6 }) }),
    );
    fc.assert(
      fc.property(frame, (f) => {
        const back = decodeClientFrame(encodeFrame(f), MAX);
        expect(back).toEqual(normalize(f));
      }),
    );
  });

  it('round-trips agent frames (property)', () => {
    const frame: fc.Arbitrary<AgentFrame> = fc.oneof(
      fc.record({ t: fc.constant('res' as const), id: fc.integer({ min: 1, max: 1e12 }), r: plain }),
      fc.record({ t: fc.constant('chunk' as const), id: fc.integer({ min: 1, max: 1e12 }), d: plain }),
      fc.record({ t: fc.constant('evt' as const), topic: fc.string({ minLength: 1, maxLength: 32 }), d: plain }),
    );
    fc.assert(
      fc.property(frame, (f) => {
        expect(decodeAgentFrame(encodeFrame(f), MAX)).toEqual(normalize(f));
      }),
    );
  });

  it('answers random bytes with ProtocolError only, never another exception (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 64 }), (bytes) => {
        try {
          decodeClientFrame(bytes, MAX);
        } catch (err) {
          expect(err).toBeInstanceOf(ProtocolError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects every truncation of a valid frame', () => {
    const full = encodeFrame({ t: 'req', id: 42, m: 'fs.find', p: { root: '/scratch', name: ['*.h5', '*.nc'], maxDepth: 3 } });
    for (let n = 0; n < full.length; n++) {
      expect(() => decodeClientFrame(full.subarray(0, n), MAX), `truncated to ${n} bytes`).toThrow(ProtocolError);
    }
  });

  it('rejects oversized frames before decoding them', () => {
    const big = encodeFrame({ t: 'req', id: 1, m: 'fs.write', p: { data: new Uint8Array(2048) } });
    expect(() => decodeClientFrame(big, 1024)).toThrow(/exceeds the limit of 1024 bytes/);
  });

  it.each([
    ['msgpackr Error extension', 'd4650a'],
    ['msgpackr Set extension', 'c70173' + '90'],
    ['msgpackr RegExp extension', 'd47800'],
    ['typed-array extension', 'c7027401' + '00'],
  ])('refuses %s', (_name, h) => {
    expect(() => decodeClientFrame(Buffer.from(h, 'hex'), MAX)).toThrow(ProtocolError);
  });

  it.each([
    [{ t: 'req', id: 0, m: 'x' }, /"id" must be/],
    [{ t: 'req', id: 1.5, m: 'x' }, /"id" must be/],
    [{ t: 'req', id: 1, m: '' }, /"m" must be/],
    [{ t: 'nope', id: 1 }, /unknown frame tag/],
    [{ t: 'ack', id: 1, n: 0 }, /"n" must be/],
    [[1, 2, 3], /must be a map/],
    ['hello', /must be a map/],
    [{ t: 'res', id: 1, r: 1 }, /unknown frame tag "res" from a client/],
  ])('names what is wrong in a bad client frame: %j', (f, msg) => {
    expect(() => decodeClientFrame(encodeFrame(f as never), MAX)).toThrow(msg);
  });

  it('keeps an attachment size on a request; a bad one, or a bad request with one, says the attachment is to be skipped', () => {
    expect(decodeClientFrame(encodeFrame({ t: 'req', id: 1, m: 'x', p: {}, b: 5 }), MAX)).toEqual({ t: 'req', id: 1, m: 'x', p: {}, b: 5 });
    for (const f of [
      { t: 'req', id: 1, m: 'x', b: -1 },
      { t: 'req', id: 1, m: 'x', b: 1.5 },
      { t: 'req', id: 1, m: 'x', b: '5' },
      { t: 'req', id: 0, m: 'x', b: 5 },
    ]) {
      let err: unknown;
      try {
        decodeClientFrame(encodeFrame(f as never), MAX);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ProtocolError);
      expect((err as ProtocolError).details).toEqual({ attachment: 'skipped' });
    }
  });

  it('keeps welcome features when they are a list of strings, refuses anything else', () => {
    const welcome = { t: 'welcome', v: 2, build: 'b', pid: 1, host: 'h', limits: { ...DEFAULT_LIMITS } };
    expect(decodeAgentFrame(encodeFrame({ ...welcome, features: ['attachments'] } as never), MAX)).toMatchObject({ features: ['attachments'] });
    expect(decodeAgentFrame(encodeFrame(welcome as never), MAX)).not.toHaveProperty('features');
    expect(() => decodeAgentFrame(encodeFrame({ ...welcome, features: 'attachments' } as never), MAX)).toThrow(/"features" must be/);
    expect(() => decodeAgentFrame(encodeFrame({ ...welcome, features: [1] } as never), MAX)).toThrow(/"features" must be/);
  });

  it('keeps __proto__ keys inert', () => {
    const f = decodeClientFrame(encodeFrame({ t: 'req', id: 1, m: 'x', p: JSON.parse('{"__proto__": {"polluted": 1}}') }), MAX) as { p: object };
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(f.p)).toBe(Object.prototype);
  });
});

/** What the codec gives back: Uint8Array arrives as Buffer (same bytes), -0 as 0 (msgpack packs it as an integer); the rest unchanged. */
function normalize<T>(v: T): T {
  const walk = (x: unknown): unknown => {
    if (x instanceof Uint8Array) return Buffer.from(x);
    if (Object.is(x, -0)) return 0;
    if (Array.isArray(x)) return x.map(walk);
    if (x && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, y]) => [k, walk(y)]));
    return x;
  };
  return walk(v) as T;
}
