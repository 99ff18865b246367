/**
 * Finding our output among login-shell noise: the start line, the warm line,
 * the probe block, the last JSON line, and the bridge marker in a byte stream
 * (split across chunks, followed at once by protocol bytes).
 */
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { START_LINE_MAGIC } from '../../protocol/index.js';
import { lastJsonLine } from '../../client/ssh/agent-control.js';
import { parseWarm } from '../../client/ssh/agent-start.js';
import { parseProbe } from '../../client/ssh/node-runtime.js';
import { MARK } from '../../client/ssh/scripts.js';
import { MarkedStream } from '../../client/ssh/tunnel.js';
import { parseStartOutput } from '../../client/start-line.js';

const NOISE = [
  'Welcome to the testbed cluster (bashrc)',
  'Lmod: the following modules were loaded: gcc/12.2 openmpi/4.1',
  '{"not":"ours"}',
  `echo ${START_LINE_MAGIC}{broken json`,
  '\u001b[1;31mQuota: 87% used\u001b[0m',
].join('\r\n');

const info = {
  socket: '/tmp/clustrix-1000/agent.sock',
  protocol: 1,
  build: 'abcdef0123456789',
  pid: 42,
  token: 't'.repeat(64),
  runDir: '/tmp/clustrix-1000',
  root: '/home/u/.clustrix',
  host: 'login1',
  node: 'v20.0.0',
  logFile: '',
  started: true,
};

describe('start line among noise', () => {
  it('skips banners, module chatter, CRLF and a half-printed magic line', () => {
    expect(parseStartOutput(`${NOISE}\n${START_LINE_MAGIC}${JSON.stringify(info)}\n`)).toEqual(info);
  });
  it('finds the line when noise is glued in front of it (no newline from a careless rc file)', () => {
    expect(parseStartOutput(`noise without newline${START_LINE_MAGIC}${JSON.stringify(info)}`)).toEqual(info);
  });
  it('returns null when there is no valid line', () => {
    expect(parseStartOutput(NOISE)).toBeNull();
  });
});

describe('warm line and probe block among noise', () => {
  it('parses the warm block and rejects a truncated one', () => {
    const ok = `${NOISE}\n${MARK.warm}\n42\n${'t'.repeat(64)}\n/tmp/clustrix-1000\n/home/u/.clustrix\n${MARK.end}\n`;
    expect(parseWarm(ok)).toEqual({
      pid: 42,
      token: 't'.repeat(64),
      runDir: '/tmp/clustrix-1000',
      root: '/home/u/.clustrix',
      socket: '/tmp/clustrix-1000/agent.sock',
    });
    expect(parseWarm(`${MARK.warm}\n42\ntoken\n`)).toBeNull();
  });

  it('parses the probe block', () => {
    const out = `${NOISE}\n${MARK.probe}\nos=Linux\narch=x86_64\nhome=/home/u\nroot=/home/u/.clustrix\nshell=/bin/tcsh\nlibc=glibc-2.36\nmkdir=ok\nnode.path=/usr/bin/node\tv20.1.0\nnode.module0=/opt/node/bin/node\tv16.0.0\n${MARK.end}\nnode.bogus=/x\tv99\n`;
    expect(parseProbe(out)).toEqual({
      os: 'Linux',
      arch: 'x86_64',
      libc: 'glibc-2.36',
      home: '/home/u',
      root: '/home/u/.clustrix',
      shell: '/bin/tcsh',
      mkdirOk: true,
      candidates: [
        { source: 'path', path: '/usr/bin/node', version: 'v20.1.0' },
        { source: 'module0', path: '/opt/node/bin/node', version: 'v16.0.0' },
      ],
    });
  });

  it('takes the last JSON line of agent status output', () => {
    expect(lastJsonLine(`${NOISE}\n{"running":true,"pid":3}\n`)).toEqual({ running: true, pid: 3 });
  });
});

/** A stand-in for an ssh2 exec channel: a duplex with a stderr stream. */
function fakeChannel() {
  const remoteOut = new PassThrough();
  const written: Buffer[] = [];
  const ch = Object.assign(new EventEmitter(), {
    stderr: new PassThrough(),
    pause: () => remoteOut.pause(),
    resume: () => remoteOut.resume(),
    write: (b: Buffer, cb: () => void) => (written.push(b), cb(), true),
    end: () => {},
    destroy: () => {},
  });
  remoteOut.on('data', (d: Buffer) => ch.emit('data', d));
  remoteOut.on('end', () => ch.emit('close', 0));
  return { ch, remoteOut, written };
}

describe('bridge marker', () => {
  it('drops everything before the marker, even split across chunks, and passes the rest through', async () => {
    const { ch, remoteOut } = fakeChannel();
    const s = new MarkedStream(ch as never, MARK.bridge);
    const got: Buffer[] = [];
    s.on('data', (d: Buffer) => got.push(d));
    const m = Buffer.from(`${NOISE}\n${MARK.bridge}\n\x00\x01HTTP/1.1 101`);
    for (let i = 0; i < m.length; i += 7) remoteOut.write(m.subarray(i, i + 7));
    await s.ready;
    remoteOut.write(Buffer.from(' more'));
    remoteOut.end();
    await new Promise((r) => s.once('end', r));
    expect(Buffer.concat(got).toString('latin1')).toBe('\x00\x01HTTP/1.1 101 more');
  });

  it('fails clearly when the bridge exits before its marker', async () => {
    const { ch, remoteOut } = fakeChannel();
    const s = new MarkedStream(ch as never, MARK.bridge);
    s.on('error', () => {});
    ch.stderr.write('no agent socket in /tmp/x\n');
    remoteOut.end('Welcome\n');
    await expect(s.ready).rejects.toThrow(/exited before it was ready.*no agent socket/);
  });
});
