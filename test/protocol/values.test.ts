import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeValue, encodeThrown, encodeValue, ValueError } from '../../protocol/values.js';

const roundTrip = (v: unknown) => decodeValue(encodeValue(v));

/** Values the codec promises to carry exactly. */
const sendable: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.string(),
    fc.integer(),
    fc.double(), // NaN, ±Infinity, -0 included
    fc.bigInt(),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.date({ noInvalidDate: false }),
    fc.uint8Array({ maxLength: 16 }),
    fc.uint8Array({ maxLength: 16 }).map((b) => Buffer.from(b)),
    fc.float64Array({ maxLength: 4 }),
    fc.int32Array({ maxLength: 4 }),
    fc.bigInt64Array({ maxLength: 4 }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(
      fc.string().filter((k) => k !== '__proto__'),
      tie('value'),
      { maxKeys: 4, noNullPrototype: true },
    ),
    fc.array(fc.tuple(tie('value'), tie('value')), { maxLength: 3 }).map((e) => new Map(e)),
    fc.array(tie('value'), { maxLength: 3 }).map((e) => new Set(e)),
  ),
})).value;

describe('function value codec', () => {
  it('round-trips every sendable value exactly (types, -0, NaN, bigint, holes as undefined)', () => {
    fc.assert(
      fc.property(sendable, (v) => {
        expect(roundTrip(v)).toStrictEqual(v);
      }),
      { numRuns: 500 },
    );
  });

  it('keeps the classes: Buffer stays Buffer, Uint8Array stays Uint8Array, typed arrays keep their kind', () => {
    const r = roundTrip({ b: Buffer.from('hi'), u: new Uint8Array([1]), f: new Float32Array([0.5]), ab: new Uint8Array([7, 8]).buffer }) as Record<
      string,
      unknown
    >;
    expect(Buffer.isBuffer(r.b)).toBe(true);
    expect(Buffer.isBuffer(r.u)).toBe(false);
    expect(r.u).toBeInstanceOf(Uint8Array);
    expect(r.f).toBeInstanceOf(Float32Array);
    expect(r.ab).toBeInstanceOf(ArrayBuffer);
    expect([...new Uint8Array(r.ab as ArrayBuffer)]).toEqual([7, 8]);
    expect(Object.is(roundTrip(-0), -0)).toBe(true);
    expect(roundTrip(2n ** 200n)).toBe(2n ** 200n);
    expect(Number.isNaN((roundTrip(new Date(NaN)) as Date).getTime())).toBe(true);
  });

  it('refuses functions, class instances, symbols and cycles, naming the path', () => {
    class Model {}
    const cyc: Record<string, unknown> = {};
    cyc.self = cyc;
    const cases: Array<[unknown, string]> = [
      [[1, { fit: () => 0 }], 'args[1].fit: a function cannot be sent'],
      [{ m: new Model() }, 'args.m: a Model instance cannot be sent'],
      [{ 'odd key': Symbol('s') }, 'args["odd key"]: a symbol cannot be sent'],
      [cyc, 'args.self: a circular reference cannot be sent'],
      [new Map([[1, new Model()]]), 'args.get(<key 0>): a Model instance cannot be sent'],
      [/re/, 'args: a RegExp instance cannot be sent'],
    ];
    for (const [v, msg] of cases) {
      expect(() => encodeValue(v, 'args')).toThrow(ValueError);
      expect(() => encodeValue(v, 'args')).toThrow(msg);
    }
    // The same object twice (not a cycle) is fine.
    const shared = { a: 1 };
    expect(roundTrip([shared, shared])).toEqual([{ a: 1 }, { a: 1 }]);
  });

  it('brings a thrown error back with its class, name, message, stack, code, cause and own properties', () => {
    class QuotaError extends Error {
      code = 'EQUOTA';
      limit = 10n;
      when = new Date(0);
      callback = () => 1;
      constructor(msg: string, opts?: ErrorOptions) {
        super(msg, opts);
        this.name = 'QuotaError';
      }
    }
    const original = new QuotaError('over quota', { cause: new RangeError('inner') });
    const e = decodeValue(encodeThrown(original)) as Error & Record<string, unknown>;
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('QuotaError');
    expect(e.message).toBe('over quota');
    expect(e.stack).toBe(original.stack);
    expect(e.code).toBe('EQUOTA');
    expect(e.limit).toBe(10n);
    expect(e.when).toEqual(new Date(0));
    expect(e.callback).toBe('[function callback]'); // unsendable props travel as text: a thrown error always arrives
    expect(e.cause).toBeInstanceOf(RangeError);
    expect(decodeValue(encodeThrown(new TypeError('t')))).toBeInstanceOf(TypeError);
    const agg = decodeValue(encodeThrown(new AggregateError([new Error('a')], 'many'))) as AggregateError;
    expect(agg).toBeInstanceOf(AggregateError);
    expect(agg.errors[0]).toBeInstanceOf(Error);
    // Non-errors thrown come back as they were.
    expect(decodeValue(encodeThrown('just a string'))).toBe('just a string');
  });
});
