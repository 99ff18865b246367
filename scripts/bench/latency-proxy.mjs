// A TCP proxy of our own that adds N ms of one-way latency in each direction,
// for benches and tests that need a "remote" cluster on loopback. Bounded
// (connection count, bytes buffered per direction) and loopback only: it
// listens on 127.0.0.1 and forwards only to loopback targets.
//
//   const p = await startLatencyProxy({ targetPort: 2222, delayMs: 10 });
//   ssh -p p.port …; p.freeze(true) simulates a dead network; await p.close();
//
// Each chunk is released `delayMs` after it arrived, in arrival order, so the
// link behaves like a long wire (latency, not bandwidth, is what we model).
import { createServer, connect, isIP } from 'node:net';

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/**
 * @param {object} o
 * @param {number} o.targetPort
 * @param {string} [o.targetHost]  default 127.0.0.1 (must be loopback)
 * @param {number} [o.delayMs]     one-way delay per direction, default 0
 * @param {number} [o.maxConnections]  default 64
 * @param {number} [o.maxBufferedBytes] per direction before the source is paused, default 8 MiB
 */
export async function startLatencyProxy({ targetPort, targetHost = '127.0.0.1', delayMs = 0, maxConnections = 64, maxBufferedBytes = 8 << 20 }) {
  if (!LOOPBACK.has(targetHost) && !(isIP(targetHost) === 4 && targetHost.startsWith('127.'))) {
    throw new Error(`latency proxy forwards to loopback only, not ${targetHost}`);
  }
  let delay = delayMs;
  let frozen = false;
  const pipes = new Set();
  const sockets = new Set();

  /** Forward src → dst with the delay; returns a function that flushes (after unfreezing). */
  function link(src, dst) {
    const queue = []; // { at, buf }
    let queued = 0;
    let timer = null;
    const pump = () => {
      timer = null;
      if (frozen) return;
      const now = performance.now();
      while (queue.length && queue[0].at <= now + 0.5) {
        const { buf } = queue.shift();
        queued -= buf.length;
        dst.write(buf);
      }
      if (queued < maxBufferedBytes && src.isPaused()) src.resume();
      if (queue.length) timer = setTimeout(pump, Math.max(0, queue[0].at - performance.now()));
    };
    src.on('data', (buf) => {
      if (delay === 0 && !frozen && queue.length === 0) return void dst.write(buf);
      queue.push({ at: performance.now() + delay, buf });
      queued += buf.length;
      if (queued >= maxBufferedBytes) src.pause();
      if (!timer) timer = setTimeout(pump, Math.max(0, queue[0].at - performance.now()));
    });
    src.on('end', () => {
      const finish = () => (queue.length ? setTimeout(finish, delay || 1) : dst.end());
      finish();
    });
    const p = { flush: () => (timer ? undefined : pump()), stop: () => timer && clearTimeout(timer) };
    pipes.add(p);
    return p;
  }

  const server = createServer({ noDelay: true }, (client) => {
    if (sockets.size / 2 >= maxConnections) return void client.destroy();
    const upstream = connect({ host: targetHost, port: targetPort, noDelay: true });
    sockets.add(client).add(upstream);
    const a = link(client, upstream);
    const b = link(upstream, client);
    const done = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
      a.stop();
      b.stop();
      pipes.delete(a);
      pipes.delete(b);
    };
    client.on('error', done).on('close', done);
    upstream.on('error', done).on('close', done);
  });
  server.maxConnections = maxConnections;
  await new Promise((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    get delayMs() {
      return delay;
    },
    setDelay(ms) {
      delay = ms;
    },
    /** Stop (true) or resume (false) forwarding in both directions, like a network outage. */
    freeze(on) {
      frozen = on;
      if (!on) for (const p of pipes) p.flush();
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
