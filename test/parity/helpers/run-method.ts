/**
 * Run one fs method through the direct harness in a separate process, so a
 * parity test can run it as an unprivileged user (permission errors do not
 * happen as root). Prints one JSON line: { items, summary } or { error };
 * byte fields (raw, targetRaw) are base64 under `rawB64`.
 *
 *   node --import tsx test/parity/helpers/run-method.ts fs.find '{"root":"/x"}'
 */
import { METHODS, ProtocolError } from '../../../protocol/index.js';
import { createDirect, entriesOf } from '../../support/direct.js';

const [name, json] = process.argv.slice(2);
const m = METHODS.get(name ?? '');
if (!m) throw new Error(`unknown method ${name}`);
const direct = createDirect({ home: process.env.HOME ?? '/' });
const params = JSON.parse(json ?? '{}') as never;

const replacer = (_k: string, v: unknown): unknown => (v instanceof Uint8Array ? { b64: Buffer.from(v).toString('base64') } : v);
try {
  if (m.kind === 'stream') {
    const { chunks, summary } = await direct.collect(m, params);
    const items = entriesOf(chunks);
    process.stdout.write(`${JSON.stringify({ items, summary }, replacer)}\n`);
  } else {
    const result = await direct.call(m, params);
    process.stdout.write(`${JSON.stringify({ result }, replacer)}\n`);
  }
} catch (err) {
  const e = err instanceof ProtocolError ? err.toWire() : { code: 'INTERNAL', message: String(err) };
  process.stdout.write(`${JSON.stringify({ error: e })}\n`);
}
