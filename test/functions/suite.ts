/**
 * The functions suite, run as is on the local scheduler (embedded default)
 * and on real Slurm: run, remote, map, exceptions, progress, the bundle and
 * environment reuse, and what reaches the scheduler.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Cluster } from '../../client/cluster.js';
import { ConnectionError, FunctionJobError, MapError, ValueError } from '../../client/index.js';
import type { SchedulerName } from '../../protocol/index.js';
import { makeFixture, type FunctionsFixture } from './fixture.js';

export interface FunctionsBed {
  scheduler: SchedulerName;
  connect(): Promise<Cluster>;
  /** A directory the agent user can write (gate files). */
  scratch: string;
  /** Submissions the scheduler has received so far (sbatch calls; local: jobs in the local queue). */
  submissions(c: Cluster): Promise<number>;
  /** kill -9 the agent (its jobs go on); the next connect starts a new one. */
  killAgent(): Promise<void>;
  cleanup(): Promise<void>;
}

type Work = typeof import('./fixture-types.js');

export function defineFunctionsSuite(setup: () => Promise<FunctionsBed>): void {
  let bed: FunctionsBed;
  let c: Cluster;
  let fx: FunctionsFixture;
  let work: URL;
  const o = () => ({ scheduler: bed.scheduler });

  beforeAll(async () => {
    fx = makeFixture();
    work = pathToFileURL(fx.work);
    bed = await setup();
    c = await bed.connect();
    await c.fs.mkdir(bed.scratch);
  });

  afterAll(async () => {
    await c?.close();
    await bed?.cleanup();
    fx?.cleanup();
  });

  it('runs an export that imports a dependency; the bundle is uploaded once, by content', async () => {
    const first = c.run<Work['add']>(work, 'add', [20, 2], o());
    expect(await first).toBe(42);
    const r1 = (await first.submitted)!;
    expect(r1.bundle.bundled.map((p) => `${p.name}@${p.version}`)).toEqual(['clx-dep@1.2.3']);
    expect(r1.bundle.external).toEqual([]);
    expect(r1.env).toBeNull();
    expect(r1.bundle.path).toMatch(new RegExp(`/bundles/${r1.bundle.sha256}\\.mjs$`));
    // The agent has the file; another call (or a remote() function) uploads nothing.
    const add = c.remote<Work['add']>(work, 'add', o());
    const second = add(1, 1);
    expect(await second).toBe(3);
    expect((await second.submitted)!.bundle.uploaded).toBe(false);
    expect((await second.submitted)!.bundle.sha256).toBe(r1.bundle.sha256);
    expect(await c.fs.exists(r1.bundle.path)).toBe(true);
  }, 120_000);

  it('carries Map, Set, Date, bigint, Buffer, typed arrays and undefined both ways', async () => {
    const value = {
      m: new Map<unknown, unknown>([
        [1, 'one'],
        [{ k: 2 }, new Set([1, 2])],
      ]),
      when: new Date(Date.UTC(2020, 1, 29)),
      big: 2n ** 80n,
      buf: Buffer.from('bytes'),
      f64: new Float64Array([1.5, -0, NaN]),
      missing: undefined,
      nested: [null, undefined, 'x'],
    };
    expect(await c.run<Work['echo']>(work, 'echo', [value], o())).toStrictEqual(value);
  }, 60_000);

  it('rethrows a remote exception with its class name, message, code, fields and a stack pointing into the module', async () => {
    const err = (await c.run<Work['failQuota']>(work, 'failQuota', [], o()).catch((e: unknown) => e)) as Error & Record<string, unknown>;
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('QuotaError');
    expect(err.message).toBe('over quota');
    expect(err.code).toBe('EQUOTA');
    expect(err.limit).toBe(5);
    // Source maps: the remote stack names the TypeScript file and the function.
    expect(err.stack).toMatch(/failQuota .*work\.ts:\d+:\d+/);
    expect((err as { clustrix?: { jobId: string } }).clustrix?.jobId).toMatch(/\w+/);
    const typeErr = await c.run<Work['failType']>(work, 'failType', [], o()).catch((e: unknown) => e);
    expect(typeErr).toBeInstanceOf(TypeError);
  }, 90_000);

  it('refuses arguments that cannot be sent before submitting anything, and results that cannot come back', async () => {
    const before = await bed.submissions(c);
    class Model {}
    const sent = c.run<Work['echo']>(work, 'echo', [{ model: new Model() }], o());
    await expect(sent).rejects.toBeInstanceOf(ValueError);
    await expect(sent).rejects.toThrow('args[0].model: a Model instance cannot be sent');
    await expect(c.map<Work['echo']>(work, 'echo', [1, () => 2], o())).rejects.toThrow('items[1]: a function cannot be sent');
    expect(await bed.submissions(c)).toBe(before);
    const back = await c.run<Work['returnsFunction']>(work, 'returnsFunction', [], o()).catch((e: unknown) => e);
    expect(back).toBeInstanceOf(TypeError);
    expect(String(back)).toContain('returned a value that cannot be sent back');
  }, 90_000);

  it('maps over 100 items as ONE job array: results in input order, a failed item reported without losing the others', async () => {
    const before = await bed.submissions(c);
    const items = Array.from({ length: 100 }, (_, i) => i);
    const call = c.map<Work['square']>(work, 'square', items, { ...o(), maxConcurrent: 4 });
    const err = (await call.catch((e: unknown) => e)) as MapError<{ x: number; sq: number; scratch: boolean }>;
    expect(err).toBeInstanceOf(MapError);
    expect(err.failures.map((f) => f.index)).toEqual([13]);
    expect(err.failures[0]!.error).toBeInstanceOf(RangeError);
    expect(String(err.failures[0]!.error)).toContain('unlucky 13');
    const settled = await call.settled();
    expect(settled).toHaveLength(100);
    for (const [i, s] of settled.entries()) {
      if (i === 13) continue;
      expect(s).toEqual({ ok: true, value: { x: i, sq: i * i, scratch: true } });
    }
    const report = (await call.submitted)!;
    expect(report.job.nativeIds).toHaveLength(1);
    expect(report.job.array?.count).toBe(100);
    expect(await bed.submissions(c)).toBe(before + 1);
  }, 240_000);

  it('puts several items in each task with chunkSize, still in order', async () => {
    const call = c.map<(x: string) => string>(work, 'echo', ['a', 'b', 'c', 'd', 'e'], { ...o(), chunkSize: 2 });
    expect(await call).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect((await call.submitted)!.job.array?.count).toBe(3);
    expect(await c.map(work, 'echo', [], o())).toEqual([]);
  }, 90_000);

  it('streams progress events to the caller before the result', async () => {
    const gate = `${bed.scratch}/gate-${Date.now()}`;
    const call = c.run<Work['steps']>(work, 'steps', [3, gate], o());
    const seen: unknown[] = [];
    for await (const ev of call) {
      seen.push(ev.data);
      if (seen.length === 1) {
        // The function is still waiting for this file: the event came while it ran.
        expect(call.job?.state === undefined || (await call.job.refresh()).state === 'RUNNING').toBe(true);
        await c.fs.writeFile(gate, 'go');
      }
    }
    expect(seen).toEqual([{ step: 0 }, { step: 1 }, { step: 2 }]);
    expect(await call).toBe(3);
  }, 90_000);

  it('installs a native package into a dependency environment once; a second run uploads nothing and builds nothing', async () => {
    const native = pathToFileURL(fx.native);
    const opts = { ...o(), environment: { node: { tarballs: [fx.nativeTarball], offline: true } } };
    const first = c.run<(x: number) => number>(native, 'tripled', [5], opts);
    expect(await first).toBe(15);
    const r1 = (await first.submitted)!;
    expect(r1.bundle.external).toEqual([{ name: 'clx-native', version: '0.4.0', reason: 'native', dir: join(fx.dir, 'node_modules', 'clx-native') }]);
    expect(r1.bundle.uploaded).toBe(true);
    expect(r1.env?.built).toBe(true);
    const second = c.run<(x: number) => number>(native, 'tripled', [7], opts);
    expect(await second).toBe(21);
    const r2 = (await second.submitted)!;
    expect(r2.bundle.uploaded).toBe(false);
    expect(r2.env).toEqual({ hash: r1.env!.hash, path: r1.env!.path, built: false });
  }, 240_000);

  it("with externals: 'upload', packs the installed native package here and installs it there with no registry, once", async () => {
    const native = pathToFileURL(fx.native);
    const first = c.run<(x: number) => number>(native, 'tripled', [2], { ...o(), externals: 'upload' });
    expect(await first).toBe(6);
    const r1 = (await first.submitted)!;
    expect(r1.packages).toHaveLength(1);
    expect(r1.packages[0]).toMatchObject({ name: 'clx-native', version: '0.4.0', uploaded: true, path: expect.stringMatching(/\/pkgs\/[0-9a-f]{64}\.tgz$/) });
    expect(await c.fs.exists(r1.packages[0]!.path)).toBe(true);
    expect(r1.env?.built).toBe(true);
    const second = c.run<(x: number) => number>(native, 'tripled', [3], { ...o(), externals: 'upload' });
    expect(await second).toBe(9);
    const r2 = (await second.submitted)!;
    expect(r2.packages).toEqual([{ ...r1.packages[0]!, uploaded: false }]);
    expect(r2.env).toEqual({ ...r1.env!, built: false });
  }, 240_000);

  it('ends the job after the function returns even if it left a timer running; carries results over 4 MiB', async () => {
    expect(await c.run<Work['leavesTimerRunning']>(work, 'leavesTimerRunning', [], o())).toBe('done');
    const big = await c.run<Work['bytes']>(work, 'bytes', [9 * 1024 * 1024], o());
    expect(Buffer.isBuffer(big)).toBe(true);
    expect(big.length).toBe(9 * 1024 * 1024);
    expect(big.every((b) => b === 7)).toBe(true);
  }, 90_000);

  it('cancels the job when the caller aborts, and rejects with the reason', async () => {
    const ac = new AbortController();
    const call = c.run<Work['sleepy']>(work, 'sleepy', [120_000], { ...o(), signal: ac.signal });
    for await (const ev of call) {
      expect(ev.data).toBe('started');
      ac.abort(new Error('changed my mind'));
      break;
    }
    await expect(call).rejects.toThrow('changed my mind');
    const job = await c.jobs.get(call.job!.id);
    const final = job.state === 'CANCELLED' ? job : await c.jobs.job(job.id).wait({ timeoutMs: 60_000 });
    expect(final.state).toBe('CANCELLED');
  }, 90_000);

  it('keeps the result when the agent dies mid-call: the call says how to attach, attach() gets it', async () => {
    const mine = await bed.connect();
    const call = mine.run<Work['sleepy']>(work, 'sleepy', [1500], o());
    for await (const ev of call) {
      expect(ev.data).toBe('started');
      break;
    }
    const id = call.job!.id;
    await bed.killAgent();
    const err = await call.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect(String(err)).toContain(`attach('${id}')`);
    await mine.close();
    // The suite's own connection went with the agent too: later tests use the new one.
    await c.close();
    c = await bed.connect();
    expect(await c.functions.attach<string>(id)).toBe('woke');
    const m = c.map<Work['echo']>(work, 'echo', ['x', 'y', 'z'], { ...o(), chunkSize: 2 });
    expect(await m).toEqual(['x', 'y', 'z']);
    const mapId = (await m.submitted)!.job.id;
    expect(await c.functions.attachMap<string>(mapId)).toEqual(['x', 'y', 'z']);
    await expect(c.functions.attach(mapId)).rejects.toThrow(/is a map call/);
  }, 120_000);

  it('reports a job that died without writing a result as FunctionJobError, with its state and stderr', async () => {
    const err = await c.run<Work['exitsEarly']>(work, 'exitsEarly', [], o()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FunctionJobError);
    const e = err as FunctionJobError;
    expect(e.job.state).toBe('FAILED');
    expect(e.job.exitCode).toBe(3);
    expect(e.message).toContain('without writing a result');
    expect(e.stderrTail).toContain('giving up early');
  }, 90_000);
}
