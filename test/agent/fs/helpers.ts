/** Small helpers for the fs handler tests. */
import { expect } from 'vitest';
import { ProtocolError, type ErrorCode } from '../../../protocol/index.js';

/** Await a promise that must reject with a ProtocolError of `code`; returns it for more checks. */
export async function rejectsWith(p: Promise<unknown>, code: ErrorCode): Promise<ProtocolError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as ProtocolError).code).toBe(code);
    return err as ProtocolError;
  }
  throw new Error(`expected a ${code} rejection, got a result`);
}

/** Let pending callbacks and I/O completions run (not a sleep: a fixed number of event-loop turns). */
export async function turns(n = 20): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}
