/**
 * A method is a typed value, declared once here and imported by both sides:
 *
 *   export const fsStat = unary('fs.stat', StatParams, returns<FileInfo>());
 *   client: await conn.call(fsStat, { path })        // typed params and result
 *   agent:  registry.unary(fsStat, async (p, ctx) => …)
 *
 * Params are a valibot schema, checked by the agent at the boundary. Results
 * are typed only (the agent is the one producing them).
 */
import * as v from 'valibot';
import { ProtocolError } from './errors.js';

export type AnySchema = v.GenericSchema<unknown, unknown>;

/** Phantom marker carrying a type, with no runtime value. */
export interface Returns<T> {
  readonly __returns?: T;
}
export function returns<T>(): Returns<T> {
  return {};
}

/** A request/response method. */
export interface UnaryMethod<S extends AnySchema = AnySchema, R = unknown> {
  readonly kind: 'unary';
  readonly name: string;
  readonly params: S;
  /** The bytes params field that may travel as the request's attachment (RequestFrame.b). */
  readonly attachment?: string;
  readonly __result?: R;
}

/** A method that streams chunks of type C and ends with a summary R. */
export interface StreamMethod<S extends AnySchema = AnySchema, C = unknown, R = unknown> {
  readonly kind: 'stream';
  readonly name: string;
  readonly params: S;
  readonly __chunk?: C;
  readonly __result?: R;
}

export type Method = UnaryMethod | StreamMethod;

/** What the caller passes (before defaults are applied). */
export type ParamsIn<M extends Method> = v.InferInput<M['params']>;
/** What the handler receives (after validation and defaults). */
export type ParamsOut<M extends Method> = v.InferOutput<M['params']>;
export type ResultOf<M extends Method> = M extends UnaryMethod<AnySchema, infer R> ? R : M extends StreamMethod<AnySchema, unknown, infer R> ? R : never;
export type ChunkOf<M extends Method> = M extends StreamMethod<AnySchema, infer C, unknown> ? C : never;

export function unary<S extends AnySchema, R>(name: string, params: S, _result: Returns<R>, opts: { attachment?: string } = {}): UnaryMethod<S, R> {
  return opts.attachment === undefined ? { kind: 'unary', name, params } : { kind: 'unary', name, params, attachment: opts.attachment };
}

export function stream<S extends AnySchema, C, R>(name: string, params: S, _chunk: Returns<C>, _result: Returns<R>): StreamMethod<S, C, R> {
  return { kind: 'stream', name, params };
}

/**
 * Validate params against a method's schema. Throws INVALID_PARAMS naming the
 * field and the problem, e.g. `fs.find: params.maxDepth: expected integer >= 0`.
 */
export function parseParams<M extends Method>(m: M, input: unknown): ParamsOut<M> {
  const res = v.safeParse(m.params, input);
  if (res.success) return res.output;
  const issues = res.issues.slice(0, 10).map((i) => {
    const path = v.getDotPath(i);
    return { path: path ? `params.${path}` : 'params', message: i.message };
  });
  const first = issues[0]!;
  throw new ProtocolError('INVALID_PARAMS', `${m.name}: ${first.path}: ${first.message}`, { issues });
}
