import { describe, expect, it } from 'vitest';
import { defaultRunDir, parseLock, runPaths } from '../../protocol/index.js';

describe('run dir contract', () => {
  it('picks $CLUSTRIX_RUN_DIR, then an owned $XDG_RUNTIME_DIR, then /tmp/clustrix-<uid>', () => {
    const owned = (p: string) => p.replace(/\/$/, '') === '/run/user/1000';
    expect(defaultRunDir({ CLUSTRIX_RUN_DIR: '/x/run', XDG_RUNTIME_DIR: '/run/user/1000' }, 1000, owned)).toBe('/x/run');
    expect(defaultRunDir({ XDG_RUNTIME_DIR: '/run/user/1000/' }, 1000, owned)).toBe('/run/user/1000/clustrix');
    expect(defaultRunDir({ XDG_RUNTIME_DIR: '/run/user/0' }, 1000, owned)).toBe('/tmp/clustrix-1000');
    expect(defaultRunDir({ XDG_RUNTIME_DIR: 'relative' }, 1000, () => true)).toBe('/tmp/clustrix-1000');
    expect(defaultRunDir({}, 7, owned)).toBe('/tmp/clustrix-7');
  });

  it('names the socket, lock and token inside the run dir', () => {
    expect(runPaths('/tmp/clustrix-7')).toEqual({
      dir: '/tmp/clustrix-7',
      socket: '/tmp/clustrix-7/agent.sock',
      lock: '/tmp/clustrix-7/agent.lock',
      token: '/tmp/clustrix-7/agent.token',
    });
  });

  it('reads a lock, and takes a torn or foreign file for no lock', () => {
    expect(parseLock('{"pid":42,"startedAt":5,"build":"abc"}')).toEqual({ pid: 42, startedAt: 5, build: 'abc' });
    expect(parseLock('{"pid":42')).toBeNull();
    expect(parseLock('{"pid":"42","build":"abc"}')).toBeNull();
    expect(parseLock('{"pid":-1}')).toBeNull();
    expect(parseLock('null')).toBeNull();
    expect(parseLock('{"pid":42}')).toEqual({ pid: 42, startedAt: 0, build: '' });
  });
});
