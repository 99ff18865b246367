/**
 * Every method's params schema, fed arbitrary plain data (what can arrive in
 * a frame): it either accepts the value or throws INVALID_PARAMS naming a
 * field — never another exception, which the agent would report as INTERNAL.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { METHODS, parseParams, ProtocolError } from '../../protocol/index.js';

/** What a decoded frame can hold: maps, arrays, strings, numbers, booleans, null, bytes. */
const wire: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.string(),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.uint8Array({ maxLength: 8 }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.string(), tie('value'), { maxKeys: 5 }),
  ),
})).value;

/** Objects using the method's real field names, so the checks past the first field run too. */
function fieldsOf(schema: unknown): string[] {
  const s = schema as { entries?: Record<string, unknown>; wrapped?: unknown; pipe?: unknown[] };
  if (s.entries) return Object.keys(s.entries);
  if (s.wrapped) return fieldsOf(s.wrapped);
  if (s.pipe?.[0]) return fieldsOf(s.pipe[0]);
  return [];
}

describe('params validation of every method', () => {
  for (const m of METHODS.values()) {
    it(`${m.name}: accepts or answers INVALID_PARAMS, for any wire value`, () => {
      const keys = fieldsOf(m.params);
      const shaped = keys.length ? fc.record(Object.fromEntries(keys.map((k) => [k, wire])), { requiredKeys: [] }) : wire;
      fc.assert(
        fc.property(fc.oneof(wire, shaped), (p) => {
          try {
            parseParams(m, p);
          } catch (err) {
            expect(err).toBeInstanceOf(ProtocolError);
            expect((err as ProtocolError).code).toBe('INVALID_PARAMS');
            expect((err as ProtocolError).message).toMatch(new RegExp(`^${m.name.replace('.', '\\.')}: params`));
          }
        }),
        { numRuns: 300 },
      );
    });
  }
});
