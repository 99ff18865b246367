/**
 * coalesceWrites on a stand-in for an ssh2 channel (a Duplex with only
 * _write, which like ssh2 holds at most one pending write): a corked burst
 * reaches the channel with small neighbours merged into one write and large
 * pieces as they are, the same memory (no copy), in order.
 */
import { Duplex } from 'node:stream';
import { expect, it } from 'vitest';
import { coalesceWrites, OWN_WRITE_BYTES } from '../../client/ssh/coalesce-writes.js';

/** A channel that records each _write; `async` calls back on a later tick, as ssh2 does when its window is used up. */
function channel(async: boolean): { ch: Duplex; writes: Buffer[]; maxPending: () => number } {
  const writes: Buffer[] = [];
  let pending = 0;
  let max = 0;
  const ch = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      pending++;
      max = Math.max(max, pending);
      writes.push(chunk);
      const done = () => {
        pending--;
        cb();
      };
      if (async) setImmediate(done);
      else done();
    },
  });
  return { ch: coalesceWrites(ch), writes, maxPending: () => max };
}

for (const async of [false, true]) {
  it(`merges runs of small pieces and passes large ones through uncopied (${async ? 'async' : 'sync'} channel)`, async () => {
    const { ch, writes, maxPending } = channel(async);
    const big1 = Buffer.alloc(OWN_WRITE_BYTES, 1);
    const big2 = Buffer.alloc(1 << 20, 2);
    const small = (b: number) => Buffer.from([b, b]);
    ch.cork();
    for (const b of [small(10), small(11), big1, small(12), big2, big2, small(13), small(14)]) ch.write(b);
    const flushed = new Promise<void>((r) => ch.write(small(15), () => r()));
    ch.uncork();
    await flushed;
    expect(writes.map((w) => w.length)).toEqual([4, OWN_WRITE_BYTES, 2, 1 << 20, 1 << 20, 6]);
    expect([...writes[0]!]).toEqual([10, 10, 11, 11]);
    expect([...writes[5]!]).toEqual([13, 13, 14, 14, 15, 15]);
    // The very buffers written, not copies of them.
    expect(writes[1]).toBe(big1);
    expect(writes[3]).toBe(big2);
    expect(writes[4]).toBe(big2);
    expect(maxPending()).toBe(1);
  });
}
