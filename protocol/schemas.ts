/** Reusable param schemas. */
import * as v from 'valibot';
import { DEFAULT_LIMITS } from './limits.js';

function byteLength(p: string | Uint8Array): number {
  return typeof p === 'string' ? utf8Length(p) : p.byteLength;
}

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

function hasNul(p: string | Uint8Array): boolean {
  return typeof p === 'string' ? p.includes('\0') : p.includes(0);
}

/** Bytes (Uint8Array or Buffer, any backing buffer). */
export const Bytes = v.custom<Uint8Array>((x) => x instanceof Uint8Array, 'expected bytes');

/**
 * A path: a string, or raw bytes when the name is not valid UTF-8 (as the
 * agent reports it in `raw` fields). Non-empty, no NUL, at most maxPathBytes.
 */
export const PathArg = v.pipe(
  v.union([v.string(), Bytes], 'expected a path (string or bytes)'),
  v.check((p) => byteLength(p) > 0, 'path must not be empty'),
  v.check((p) => !hasNul(p), 'path must not contain NUL bytes'),
  v.check((p) => byteLength(p) <= DEFAULT_LIMITS.maxPathBytes, `path longer than ${DEFAULT_LIMITS.maxPathBytes} bytes`),
);
export type PathArg = string | Uint8Array;

/** A non-negative integer (sizes, counts, depths). */
export const Count = v.pipe(v.number(), v.integer('expected an integer'), v.minValue(0, 'expected a value >= 0'));

/** Milliseconds since the epoch, or a Date. */
export const TimeArg = v.union([v.number(), v.date()], 'expected a time (ms since epoch, or a Date)');

/** A glob pattern (fnmatch syntax). */
export const Pattern = v.pipe(
  v.string('expected a glob pattern string'),
  v.minLength(1, 'pattern must not be empty'),
  v.maxLength(4096, 'pattern longer than 4096 characters'),
);
