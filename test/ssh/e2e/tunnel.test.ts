/**
 * The tunnel's transport against the real sshd: sshd leaves Nagle on, so the
 * tail of a burst waits for our ACK; promptAcks returns the channel window
 * as soon as data has arrived and we stay silent, and that packet carries
 * the ACK. Checked by what goes on the wire (ssh2's debug log), not by time.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openSsh, type SshSession } from '../../../client/ssh/connect.js';
import { openStreamLocal } from '../../../client/ssh/tunnel.js';
import { bed, describeSsh, login, sleep } from './bed.js';

describeSsh('ssh e2e: tunnel transport', () => {
  // A Unix server the test user can reach through sshd: 100 KB per request, far below the
  // 1 MiB of window ssh2 lets go by before it returns any on its own.
  const dir = mkdtempSync(join(tmpdir(), 'clx-tun-'));
  const socket = join(dir, 's.sock');
  let server: Server;
  let ssh: SshSession;
  const debug: string[] = [];
  beforeAll(async () => {
    chmodSync(dir, 0o755);
    server = createServer((s) => s.on('data', () => s.write(Buffer.alloc(100_000, 1))));
    await new Promise<void>((r) => server.listen(socket, r));
    chmodSync(socket, 0o777);
    ssh = await openSsh(login('main'), { configFiles: [bed.sshConfig], debug: (l) => debug.push(l) });
  });
  afterAll(() => {
    ssh?.close();
    server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('returns the window (and so ACKs) as soon as data has arrived and we have nothing to send', async () => {
    const ch = await openStreamLocal(ssh.client, socket);
    let got = 0;
    ch.on('data', (d: Buffer) => (got += d.length));
    debug.length = 0;
    ch.write('x');
    while (got < 100_000) await sleep(5);
    await sleep(50); // silent on our side
    const adjusts = debug.filter((l) => /Outbound: Sending CHANNEL_WINDOW_ADJUST/.test(l));
    expect(adjusts.length).toBeGreaterThan(0);
    ch.end();
  });
});
