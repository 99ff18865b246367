/**
 * The codec of function arguments and results (`cluster.run`, `map`): msgpack
 * with a small, closed set of extension types, so that what a TypeScript
 * function takes and returns survives the trip to the cluster and back:
 *
 *   undefined, null, booleans, numbers (NaN, ±Infinity, -0), strings, bigint,
 *   arrays (holes become undefined), plain objects (own enumerable string keys),
 *   Date (invalid dates too), Map, Set, Uint8Array, Buffer, the other typed
 *   arrays, ArrayBuffer, Error (and its subclasses: name, message, stack,
 *   code, cause and own enumerable properties).
 *
 * Functions, symbols, class instances, cycles and other exotic objects are
 * refused with an error naming the path (`args[0].model.fit: a function cannot
 * be sent`) before anything is sent. Decoding never runs code: an Error comes
 * back as an instance of the built-in class of its name (TypeError…) or as a
 * plain Error carrying the remote name.
 *
 * Why @msgpack/msgpack and not msgpackr (the frame codec): msgpackr's
 * extensions are process-global, and the frame codec refuses extension
 * types globally; this codec needs its own, per instance.
 */
import { Decoder, Encoder, ExtensionCodec } from '@msgpack/msgpack';

/** A value that cannot be sent, with the path to it. */
export class ValueError extends TypeError {
  override name = 'ValueError';
  readonly path: string;
  constructor(path: string, problem: string) {
    super(`${path}: ${problem}`);
    this.path = path;
  }
}

/** Deepest nesting accepted (arrays, objects, maps, sets, error causes). */
export const MAX_VALUE_DEPTH = 512;

const EXT = { undefined: 0, bigint: 1, map: 2, set: 3, date: 4, buffer: 5, typed: 6, arrayBuffer: 7, error: 8, negativeZero: 9 } as const;

const TYPED = {
  Int8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
} as const;
type TypedName = keyof typeof TYPED;

/** Built-in error classes an Error may come back as (by its `name`). */
const ERROR_CLASSES: Record<string, ErrorConstructor> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

// Wrappers the prepare step puts in place of values msgpack would get wrong.
// The extension codec recognises them by class: user data can never look like one.
class Undef {}
const UNDEF = new Undef();
// msgpack integers have no -0; keep it (a float would cost 9 bytes anyway).
class NegZero {}
const NEG_ZERO = new NegZero();
class Big {
  constructor(readonly v: bigint) {}
}
class MapW {
  constructor(readonly entries: unknown[]) {}
}
class SetW {
  constructor(readonly items: unknown[]) {}
}
class DateW {
  constructor(readonly ms: number) {}
}
class BufW {
  constructor(readonly bytes: Uint8Array) {}
}
class TypedW {
  constructor(
    readonly kind: TypedName,
    readonly bytes: Uint8Array,
  ) {}
}
class AbW {
  constructor(readonly bytes: Uint8Array) {}
}
class ErrW {
  constructor(readonly fields: Record<string, unknown>) {}
}

/** The plain shape an Error travels as. */
export interface ErrorRecord {
  name: string;
  message: string;
  stack?: string;
  code?: unknown;
  cause?: unknown;
  /** Own enumerable properties other than the above. */
  props?: Record<string, unknown>;
}

function describeObject(v: object): string {
  const ctor = (Object.getPrototypeOf(v) as { constructor?: { name?: string } } | null)?.constructor?.name;
  return ctor ? `a ${ctor} instance` : 'an object with a custom prototype';
}

const keyPath = (path: string, k: string) => (/^[A-Za-z_$][\w$]*$/.test(k) ? `${path}.${k}` : `${path}[${JSON.stringify(k)}]`);

/**
 * Replace what msgpack cannot carry faithfully by wrappers, and refuse what
 * cannot be sent. Errors are lenient about their extra properties (a thrown
 * error must always travel): an unsendable property becomes its String().
 */
function prepare(v: unknown, path: string, stack: Set<object>, depth: number, lenient: boolean): unknown {
  switch (typeof v) {
    case 'undefined':
      return UNDEF;
    case 'number':
      return Object.is(v, -0) ? NEG_ZERO : v;
    case 'string':
    case 'boolean':
      return v;
    case 'bigint':
      return new Big(v);
    case 'function':
      if (lenient) return `[function ${v.name || 'anonymous'}]`;
      throw new ValueError(path, `a function cannot be sent (${v.name || 'anonymous'}); send data and look the function up on the other side`);
    case 'symbol':
      if (lenient) return String(v);
      throw new ValueError(path, `a symbol cannot be sent (${String(v)})`);
  }
  if (v === null) return null;
  const o = v as object;
  if (depth > MAX_VALUE_DEPTH) throw new ValueError(path, `nested deeper than ${MAX_VALUE_DEPTH} levels`);
  if (stack.has(o)) {
    if (lenient) return '[circular]';
    throw new ValueError(path, 'a circular reference cannot be sent');
  }
  const proto = Object.getPrototypeOf(o) as object | null;
  if (Array.isArray(o)) {
    if (proto !== Array.prototype) return refuse(o, path, lenient);
    stack.add(o);
    const out = new Array<unknown>(o.length);
    for (let i = 0; i < o.length; i++) out[i] = prepare(o[i], `${path}[${i}]`, stack, depth + 1, lenient);
    stack.delete(o);
    return out;
  }
  if (proto === Object.prototype || proto === null) {
    stack.add(o);
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(o)) {
      if (k === '__proto__') {
        if (lenient) continue;
        throw new ValueError(keyPath(path, k), 'a key named __proto__ cannot be sent');
      }
      const val = prepare((o as Record<string, unknown>)[k], keyPath(path, k), stack, depth + 1, lenient);
      out[k] = val;
    }
    stack.delete(o);
    return out;
  }
  if (o instanceof Date) return new DateW(o.getTime());
  if (typeof Buffer !== 'undefined' && Buffer.isBuffer(o)) return new BufW(new Uint8Array(o.buffer, o.byteOffset, o.byteLength));
  if (o instanceof Uint8Array && proto === Uint8Array.prototype) return o;
  for (const name of Object.keys(TYPED) as TypedName[]) {
    if (proto === TYPED[name].prototype) {
      const t = o as InstanceType<(typeof TYPED)[TypedName]>;
      return new TypedW(name, new Uint8Array(t.buffer, t.byteOffset, t.byteLength));
    }
  }
  if (o instanceof ArrayBuffer) return new AbW(new Uint8Array(o));
  if (o instanceof Map && proto === Map.prototype) {
    stack.add(o);
    const entries: unknown[] = [];
    let i = 0;
    for (const [k, val] of o) {
      entries.push(prepare(k, `${path}<key ${i}>`, stack, depth + 1, lenient), prepare(val, `${path}.get(<key ${i}>)`, stack, depth + 1, lenient));
      i++;
    }
    stack.delete(o);
    return new MapW(entries);
  }
  if (o instanceof Set && proto === Set.prototype) {
    stack.add(o);
    const items: unknown[] = [];
    let i = 0;
    for (const item of o) items.push(prepare(item, `${path}<item ${i++}>`, stack, depth + 1, lenient));
    stack.delete(o);
    return new SetW(items);
  }
  if (o instanceof Error) {
    stack.add(o);
    const rec = prepareError(o, path, stack, depth);
    stack.delete(o);
    return new ErrW(rec);
  }
  return refuse(o, path, lenient);
}

function refuse(o: object, path: string, lenient: boolean): unknown {
  if (lenient) {
    try {
      return String(o);
    } catch {
      return `[${describeObject(o)}]`;
    }
  }
  throw new ValueError(
    path,
    `${describeObject(o)} cannot be sent; send plain objects, arrays, strings, numbers, bigint, Date, Map, Set, typed arrays or Buffers`,
  );
}

const ERROR_OWN = new Set(['name', 'message', 'stack', 'code', 'cause']);

function prepareError(e: Error, path: string, stack: Set<object>, depth: number): Record<string, unknown> {
  const rec: Record<string, unknown> = { name: typeof e.name === 'string' ? e.name : 'Error', message: String(e.message) };
  if (typeof e.stack === 'string') rec.stack = e.stack;
  const x = e as Error & { code?: unknown; cause?: unknown };
  if (x.code !== undefined) rec.code = prepare(x.code, `${path}.code`, stack, depth + 1, true);
  if ('cause' in x && x.cause !== undefined) rec.cause = prepare(x.cause, `${path}.cause`, stack, depth + 1, true);
  if (e instanceof AggregateError) rec.errors = prepare(e.errors, `${path}.errors`, stack, depth + 1, true);
  const props: Record<string, unknown> = {};
  let any = false;
  for (const k of Object.keys(e)) {
    if (ERROR_OWN.has(k) || k === 'errors') continue;
    props[k] = prepare((e as unknown as Record<string, unknown>)[k], keyPath(path, k), stack, depth + 1, true);
    any = true;
  }
  if (any) rec.props = props;
  return rec;
}

function copyBytes(b: Uint8Array): ArrayBuffer {
  const ab = new ArrayBuffer(b.byteLength);
  new Uint8Array(ab).set(b);
  return ab;
}

/** An Error rebuilt from its record: the built-in class of that name, else Error with the remote name. */
export function errorFromRecord(r: ErrorRecord & { errors?: unknown }): Error {
  const name = typeof r.name === 'string' ? r.name : 'Error';
  let e: Error;
  if (name === 'AggregateError') e = new AggregateError(Array.isArray(r.errors) ? r.errors : [], String(r.message));
  else {
    const Ctor = Object.hasOwn(ERROR_CLASSES, name) ? ERROR_CLASSES[name]! : Error;
    e = new Ctor(String(r.message));
    if (Ctor === Error && name !== 'Error') Object.defineProperty(e, 'name', { value: name, enumerable: false, writable: true, configurable: true });
  }
  if (typeof r.stack === 'string') Object.defineProperty(e, 'stack', { value: r.stack, enumerable: false, writable: true, configurable: true });
  if (r.code !== undefined) (e as Error & { code?: unknown }).code = r.code;
  if (r.cause !== undefined) Object.defineProperty(e, 'cause', { value: r.cause, enumerable: false, writable: true, configurable: true });
  if (r.props && typeof r.props === 'object') {
    for (const [k, v] of Object.entries(r.props)) {
      if (k === '__proto__' || k === 'constructor') continue;
      (e as unknown as Record<string, unknown>)[k] = v;
    }
  }
  return e;
}

function createCodecs(): { encoder: Encoder; decoder: Decoder } {
  const codec = new ExtensionCodec();
  // The recursive extensions use the same (re-entrant) encoder and decoder.
  const inner = () => pair;
  codec.register({ type: EXT.undefined, encode: (x) => (x instanceof Undef ? new Uint8Array(0) : null), decode: () => undefined });
  codec.register({ type: EXT.negativeZero, encode: (x) => (x instanceof NegZero ? new Uint8Array(0) : null), decode: () => -0 });
  codec.register({
    type: EXT.bigint,
    encode: (x) => (x instanceof Big ? new TextEncoder().encode(x.v.toString()) : null),
    decode: (d) => BigInt(new TextDecoder().decode(d)),
  });
  codec.register({
    type: EXT.map,
    encode: (x) => (x instanceof MapW ? inner().encoder.encode(x.entries) : null),
    decode: (d) => {
      const flat = inner().decoder.decode(d) as unknown[];
      const m = new Map<unknown, unknown>();
      for (let i = 0; i + 1 < flat.length; i += 2) m.set(flat[i], flat[i + 1]);
      return m;
    },
  });
  codec.register({
    type: EXT.set,
    encode: (x) => (x instanceof SetW ? inner().encoder.encode(x.items) : null),
    decode: (d) => new Set(inner().decoder.decode(d) as unknown[]),
  });
  codec.register({
    type: EXT.date,
    encode: (x) => {
      if (!(x instanceof DateW)) return null;
      const b = new Uint8Array(8);
      new DataView(b.buffer).setFloat64(0, x.ms);
      return b;
    },
    decode: (d) => new Date(new DataView(d.buffer, d.byteOffset, d.byteLength).getFloat64(0)),
  });
  codec.register({
    type: EXT.buffer,
    encode: (x) => (x instanceof BufW ? x.bytes : null),
    decode: (d) => (typeof Buffer !== 'undefined' ? Buffer.from(d) : new Uint8Array(d)),
  });
  codec.register({
    type: EXT.typed,
    encode: (x) => (x instanceof TypedW ? inner().encoder.encode([x.kind, x.bytes]) : null),
    decode: (d) => {
      const [kind, bytes] = inner().decoder.decode(d) as [string, Uint8Array];
      if (!Object.hasOwn(TYPED, kind)) throw new ValueError('value', `unknown typed array kind ${kind}`);
      const C = TYPED[kind as TypedName];
      const ab = copyBytes(bytes);
      return new C(ab, 0, ab.byteLength / C.BYTES_PER_ELEMENT);
    },
  });
  codec.register({
    type: EXT.arrayBuffer,
    encode: (x) => (x instanceof AbW ? x.bytes : null),
    decode: (d) => copyBytes(d),
  });
  codec.register({
    type: EXT.error,
    encode: (x) => (x instanceof ErrW ? inner().encoder.encode(x.fields) : null),
    decode: (d) => errorFromRecord(inner().decoder.decode(d) as ErrorRecord),
  });
  const pair = {
    encoder: new Encoder({ extensionCodec: codec, maxDepth: MAX_VALUE_DEPTH + 8, initialBufferSize: 256 }),
    decoder: new Decoder({ extensionCodec: codec }),
  };
  return pair;
}

let shared: { encoder: Encoder; decoder: Decoder } | null = null;
function codecs(): { encoder: Encoder; decoder: Decoder } {
  shared ??= createCodecs();
  return shared;
}

/**
 * Check and encode a value. Throws ValueError naming the path of the first
 * value that cannot be sent. `what` names the root in messages ("args").
 */
export function encodeValue(v: unknown, what = 'value'): Uint8Array {
  return codecs().encoder.encode(prepare(v, what, new Set(), 0, false));
}

/** Encode a thrown value so that it always travels (unsendable parts become strings). */
export function encodeThrown(v: unknown): Uint8Array {
  return codecs().encoder.encode(prepare(v, 'error', new Set(), 0, true));
}

/** Decode bytes made by encodeValue / encodeThrown. */
export function decodeValue(bytes: Uint8Array): unknown {
  return codecs().decoder.decode(bytes);
}

/** Throw a ValueError unless `v` can be sent (what encodeValue checks, without encoding). */
export function assertSendable(v: unknown, what = 'value'): void {
  prepare(v, what, new Set(), 0, false);
}
