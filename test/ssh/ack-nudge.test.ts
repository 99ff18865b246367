/**
 * promptAcks on a TCP connection: any bytes from sshd (a data packet or not:
 * sshd's own CHANNEL_WINDOW_ADJUST stalled one stat in a thousand by ~40 ms)
 * followed by silence on our side make us return the channel's window, whose
 * packet carries the ACK; bytes we write ourselves carry it already. Checked
 * with a real loopback socket and a stand-in for ssh2's channel internals
 * (the real sshd path is in e2e/tunnel.test.ts).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { promptAcks } from '../../client/ssh/ack-nudge.js';

let server: Server;
let ours: Socket;
let theirs: Socket;

beforeEach(async () => {
  const accepted = new Promise<Socket>((resolve) => (server = createServer(resolve)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  ours = connect((server.address() as { port: number }).port, '127.0.0.1');
  theirs = await accepted;
  ours.on('data', () => {}); // ssh2 reads the socket in flowing mode
});

afterEach(async () => {
  ours.destroy();
  theirs.destroy();
  await new Promise((r) => server.close(r));
});

/** A channel shaped like ssh2's as far as its windowAdjust() reads it: 1 KiB of window used. */
function channel() {
  const adjusts: number[] = [];
  const ch = Object.assign(new Duplex({ read() {}, write: (_c, _e, cb) => cb() }), {
    _client: { _sock: ours, _protocol: { channelWindowAdjust: (_id: number, amt: number) => adjusts.push(amt) } },
    outgoing: { state: 'open', id: 7 },
    incoming: { window: 2 * 1024 * 1024 - 1024 },
  });
  return { ch: promptAcks(ch), adjusts };
}

const arrived = () => new Promise<void>((r) => ours.once('data', () => r()));
const quiet = () => new Promise((r) => setTimeout(r, 30));

it('returns the window when a packet from sshd is followed by silence', async () => {
  const { adjusts } = channel();
  const got = arrived();
  theirs.write(Buffer.alloc(36)); // e.g. sshd's CHANNEL_WINDOW_ADJUST: not data of our channel
  await got;
  await quiet();
  expect(adjusts).toEqual([1024]);
});

it('sends nothing extra when we answer in the same tick (our bytes carry the ACK)', async () => {
  const { adjusts } = channel();
  const got = new Promise<void>((r) =>
    ours.once('data', () => {
      ours.write('request');
      r();
    }),
  );
  theirs.write(Buffer.alloc(36));
  await got;
  await quiet();
  expect(adjusts).toEqual([]);
});

it('stops watching the socket when the channel closes', async () => {
  const { ch, adjusts } = channel();
  ch.destroy();
  await new Promise((r) => ch.once('close', r));
  const got = arrived();
  theirs.write(Buffer.alloc(36));
  await got;
  await quiet();
  expect(adjusts).toEqual([]);
  expect(ours.listenerCount('data')).toBe(1);
});
