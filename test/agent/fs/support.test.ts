import { afterEach, describe, expect, it, vi } from 'vitest';
import { fsError } from '../../../agent/fs/errors.js';
import { decodeStrict, nameFromBytes, toFsPath } from '../../../agent/fs/names.js';
import { baseOf, parentOf, resolvePath } from '../../../agent/fs/paths.js';
import { startProgress } from '../../../agent/fs/progress.js';
import { ProtocolError, DEFAULT_LIMITS, type WalkProgress } from '../../../protocol/index.js';
import { silentLogger } from '../../../agent/log.js';

const errno = (code: string, message = `${code}: something, lstat '/x'`): Error => Object.assign(new Error(message), { code });

describe('fsError', () => {
  it('keeps known errno codes with a coreutils-style message naming the operation and path', () => {
    const e = fsError(errno('EACCES'), 'lstat', '/x/y') as ProtocolError;
    expect(e).toBeInstanceOf(ProtocolError);
    expect(e.toWire()).toEqual({ code: 'EACCES', message: 'lstat /x/y: permission denied' });
  });

  it('maps unknown errno codes to EIO with details.errno', () => {
    const e = fsError(errno('ECONNRESET', 'ECONNRESET: connection reset by peer, read'), 'read', Buffer.from([0x61, 0xff])) as ProtocolError;
    expect(e.toWire()).toEqual({ code: 'EIO', message: 'read a\uFFFD: connection reset by peer', details: { errno: 'ECONNRESET' } });
  });

  it('passes through ProtocolErrors and non-errno errors (bugs stay INTERNAL)', () => {
    const p = new ProtocolError('TIMEOUT', 't');
    expect(fsError(p, 'x', '/')).toBe(p);
    const bug = new TypeError('oops');
    expect(fsError(bug, 'x', '/')).toBe(bug);
  });
});

describe('names and paths', () => {
  it('decodes strictly, keeps a BOM, and keeps raw bytes only when needed', () => {
    expect(decodeStrict(Buffer.from([0xef, 0xbb, 0xbf, 0x61]))).toBe('\uFEFFa');
    expect(decodeStrict(Buffer.from([0xff]))).toBeUndefined();
    expect(nameFromBytes(Buffer.from('ok'))).toEqual({ name: 'ok' });
    expect(nameFromBytes(Buffer.from([0x61, 0xff]))).toEqual({ name: 'a\uFFFD', raw: Buffer.from([0x61, 0xff]) });
    expect(toFsPath(new Uint8Array(Buffer.from('plain')))).toBe('plain');
  });

  it('resolves ~ and relative paths against home without normalising', () => {
    expect(resolvePath('~', '/h')).toEqual({ io: '/h', shown: '/h' });
    expect(resolvePath('~/a/', '/h')).toEqual({ io: '/h/a/', shown: '/h/a/' });
    expect(resolvePath('a/../b', '/h')).toEqual({ io: '/h/a/../b', shown: 'a/../b' });
    expect(resolvePath('/abs', '/h')).toEqual({ io: '/abs', shown: '/abs' });
    expect(resolvePath('~user', '/h').io).toBe('/h/~user');
    const raw = resolvePath(new Uint8Array([0x78, 0xff]), '/h');
    expect(raw.io).toEqual(Buffer.from([0x2f, 0x68, 0x2f, 0x78, 0xff]));
    expect(raw.shown).toBe('x\uFFFD');
    expect(raw.raw).toEqual(Buffer.from([0x78, 0xff]));
  });

  it('parentOf and baseOf', () => {
    expect(parentOf('/a/b/')).toBe('/a');
    expect(parentOf('/a')).toBe('/');
    expect(baseOf('/a/b/')).toBe('b');
    expect(parentOf(Buffer.from('/a/b'))).toEqual(Buffer.from('/a'));
    expect(baseOf(Buffer.from('/a/b'))).toEqual(Buffer.from('b'));
  });
});

describe('startProgress', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sends a snapshot about once per second, skips ticks while one is waiting for credit, and flushes on stop', async () => {
    vi.useFakeTimers();
    const sent: WalkProgress[] = [];
    let release: (() => void) | undefined;
    const controller = new AbortController();
    const p = startProgress(
      {
        signal: controller.signal,
        limits: DEFAULT_LIMITS,
        log: silentLogger,
        onClose: () => undefined,
        send: (c) => {
          sent.push(c);
          return new Promise<void>((r) => (release = r));
        },
      },
      () => ({ visited: sent.length * 10, elapsedMs: 0 }),
    );
    vi.advanceTimersByTime(999);
    expect(sent).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(sent).toHaveLength(1);
    vi.advanceTimersByTime(3000); // the first is still waiting for credit: no pile-up
    expect(sent).toHaveLength(1);
    release!();
    await vi.advanceTimersByTimeAsync(1000);
    expect(sent).toHaveLength(2);
    const stopped = p.stop();
    release!();
    await stopped;
    vi.advanceTimersByTime(5000);
    expect(sent).toHaveLength(2);
  });
});
