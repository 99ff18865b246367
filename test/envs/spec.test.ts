/** Pure parts of environments: canonical JSON, quoting, activate script, build argv, leases. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readLease, tryAcquireLease } from '../../agent/envs/lease.js';
import { activateScript, buildSteps, canonicalJson, shQuote, specHash } from '../../agent/envs/spec.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'clx-envs-'));
  dirs.push(d);
  return d;
}

describe('canonical spec', () => {
  it('sorts keys at every level and drops undefined', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: undefined } })).toBe('{"a":{"d":[1,{"y":2,"z":1}]},"b":1}');
  });
  it('hashes equal specs equally and local file content into the hash', async () => {
    const d = tmp();
    const tgz = join(d, 'p.tgz');
    writeFileSync(tgz, 'one');
    const h1 = await specHash({ env: { A: '1' }, node: { tarballs: [tgz], offline: true } });
    const h2 = await specHash({ node: { offline: true, tarballs: [tgz] }, env: { A: '1' } });
    writeFileSync(tgz, 'two');
    const h3 = await specHash({ env: { A: '1' }, node: { tarballs: [tgz], offline: true } });
    expect(h1).toBe(h2);
    expect(h3).not.toBe(h1);
    expect(h1).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('shell quoting', () => {
  it.each(['plain', "it's", 'a b\tc\nd', '$(touch /tmp/x) `id` "q" \\ ; | & *', "''", ''])('round-trips %j through sh', (s) => {
    expect(execFileSync('/bin/sh', ['-c', `printf %s ${shQuote(s)}`], { encoding: 'utf8' })).toBe(s);
  });

  it('writes an activate script whose values survive sh exactly', () => {
    const d = tmp();
    const nasty = "x'; touch " + join(d, 'pwned') + "; echo '$HOME `id`";
    const script = activateScript({ env: { NASTY: nasty }, node: { packages: { a: '1' } }, python: { requirements: ['r'] } }, "/envs/it's here", 'h');
    writeFileSync(join(d, 'activate'), script);
    const out = execFileSync('/bin/sh', ['-c', `. ${shQuote(join(d, 'activate'))} && printf '%s\\n' "$NASTY" "$CLUSTRIX_ENV" "$NODE_PATH" "$PYTHONPATH"`], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH },
    });
    expect(out.split('\n').slice(0, 4)).toEqual([nasty, "/envs/it's here", "/envs/it's here/node/node_modules", "/envs/it's here/python"]);
    expect(() => readFileSync(join(d, 'pwned'))).toThrow();
  });

  it('loads modules by quoted name and fails activation when a module fails', () => {
    const d = tmp();
    writeFileSync(join(d, 'activate'), activateScript({ modules: ['gcc/12.2', 'bad mod'] }, '/e', 'h'));
    // A fake `module` function: records its arguments, fails for "bad mod".
    const r = execFileSync(
      '/bin/sh',
      ['-c', `module() { printf '[%s]' "$@" >> ${shQuote(join(d, 'log'))}; [ "$2" != 'bad mod' ]; }; . ${shQuote(join(d, 'activate'))}; echo "rc=$?"`],
      { encoding: 'utf8' },
    );
    expect(readFileSync(join(d, 'log'), 'utf8')).toBe('[load][gcc/12.2][load][bad mod]');
    expect(r.trim()).toBe('rc=1');
  });
});

describe('build argv', () => {
  it('passes every value as one argv element, offline when asked', () => {
    const steps = buildSteps(
      {
        node: { packages: { lodash: '4.17.21' }, tarballs: ['/t/a b.tgz'], offline: true },
        python: { interpreter: '/opt/py/bin/python3', requirements: ['x==1'], wheelDir: '/w' },
      },
      '/b',
    );
    expect(steps.map((s) => s.argv)).toEqual([
      ['npm', 'install', '--offline', '--no-audit', '--no-fund', '--prefix', '/b/node', 'lodash@4.17.21', '/t/a b.tgz'],
      [
        '/opt/py/bin/python3',
        '-m',
        'pip',
        'install',
        '--disable-pip-version-check',
        '--no-warn-script-location',
        '--no-index',
        '--find-links',
        '/w',
        '--target',
        '/b/python',
        'x==1',
      ],
    ]);
  });
});

describe('build lease', () => {
  const me = { host: 'login1', pid: 100 };
  const other = { host: 'login2', pid: 200 };

  it('is exclusive while live and renewable by its holder only', () => {
    const p = join(tmp(), 'h.lease');
    const a = tryAcquireLease(p, me, 60_000);
    expect('renew' in a).toBe(true);
    const b = tryAcquireLease(p, other, 60_000);
    expect(b).toMatchObject({ heldBy: { host: 'login1', pid: 100 } });
    if (!('renew' in a)) throw new Error('unreachable');
    expect(a.renew()).toBe(true);
    a.release();
    expect(readLease(p)).toBeNull();
  });

  it('is stolen once expired, and the old holder then knows it lost it', () => {
    const p = join(tmp(), 'h.lease');
    let now = 1_000_000;
    const clock = () => now;
    const a = tryAcquireLease(p, me, 1000, clock);
    if (!('renew' in a)) throw new Error('expected the lease');
    now += 999;
    expect(tryAcquireLease(p, other, 1000, clock)).toMatchObject({ heldBy: { host: 'login1' } });
    now += 2;
    const b = tryAcquireLease(p, other, 1000, clock);
    expect('renew' in b).toBe(true);
    expect(readLease(p)).toMatchObject({ host: 'login2', pid: 200 });
    expect(a.renew()).toBe(false);
    a.release(); // not ours any more: must not remove the thief's lease
    expect(readLease(p)).toMatchObject({ host: 'login2' });
  });

  it('treats an unreadable (torn) lease as held while young (being written), as expired once old', () => {
    const p = join(tmp(), 'h.lease');
    writeFileSync(p, '{"host":"log');
    expect(tryAcquireLease(p, me)).toEqual({ heldBy: null });
    const old = (Date.now() - 60_000) / 1000;
    utimesSync(p, old, old);
    expect('renew' in tryAcquireLease(p, me)).toBe(true);
    expect(readLease(p)).toMatchObject({ host: 'login1', pid: 100 });
  });

  it('is created whole: no other file is left beside it', () => {
    const dir = tmp();
    const a = tryAcquireLease(join(dir, 'h.lease'), me);
    expect('renew' in a).toBe(true);
    expect(readdirSync(dir)).toEqual(['h.lease']);
  });
});
