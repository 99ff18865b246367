/**
 * `externals: 'upload'`: the packages a bundle leaves external are packed
 * from this machine's node_modules (`npm pack`, whose tarballs are
 * byte-for-byte reproducible) and uploaded to `<root>/pkgs/<sha256>.tgz` on
 * the cluster, once per content; the dependency environment then installs
 * them from those files with `--offline`. For clusters without registry
 * access, and packages that are not on the registry. A native package is
 * compiled on the cluster by its own install script (node-gyp needs a
 * compiler there); its own dependencies must be external too, or bundled.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { agentInfo } from '../../protocol/index.js';
import type { Connection } from '../connection.js';
import type { FsApi } from '../fs.js';
import type { ExternalPackage } from './bundle.js';

const exec = promisify(execFile);

export interface UploadedPackage {
  name: string;
  version: string | null;
  /** The tarball on the cluster. */
  path: string;
  /** False when the cluster had this tarball already. */
  uploaded: boolean;
}

/** Pack one installed package; its bytes. */
async function pack(p: ExternalPackage): Promise<Buffer> {
  if (!p.dir) throw new Error(`external package ${p.name} is not installed here, so it cannot be uploaded; install it, or give environment.node`);
  const out = mkdtempSync(join(tmpdir(), 'clustrix-pack-'));
  try {
    const r = await exec('npm', ['pack', p.dir, '--pack-destination', out, '--silent', '--ignore-scripts'], { maxBuffer: 1 << 20 });
    const file = r.stdout.trim().split('\n').pop()!;
    return readFileSync(join(out, file));
  } catch (err) {
    throw new Error(`npm pack ${p.dir} failed: ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`, { cause: err });
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** Pack and upload each external package (skipping tarballs the cluster already has). */
export async function uploadExternals(conn: Connection, fs: FsApi, externals: ExternalPackage[], signal?: AbortSignal): Promise<UploadedPackage[]> {
  if (externals.length === 0) return [];
  const { root } = await conn.call(agentInfo, {}, signal ? { signal } : {});
  const out: UploadedPackage[] = [];
  for (const p of externals) {
    const bytes = await pack(p);
    const path = `${root}/pkgs/${createHash('sha256').update(bytes).digest('hex')}.tgz`;
    const have = await fs.exists(path, signal ? { signal } : {});
    if (!have) await fs.writeFile(path, bytes, { mkdirs: true, mode: 0o644, ...(signal ? { signal } : {}) });
    out.push({ name: p.name, version: p.version, path, uploaded: !have });
  }
  return out;
}
