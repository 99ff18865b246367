/**
 * SFTP uploads to a temporary name (the caller verifies and renames), with
 * progress, and a cli-progress bar for terminals.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import cliProgress from 'cli-progress';
import type { Client, SFTPWrapper } from 'ssh2';
import { ConnectionError } from '../errors.js';

export interface UploadProgress {
  /** What is being uploaded, e.g. "agent bundle" or "node runtime". */
  what: string;
  sent: number;
  total: number;
}

export type ProgressFn = (p: UploadProgress) => void;

export function openSftp(ssh: Client): Promise<SFTPWrapper> {
  return new Promise((resolve, reject) => {
    ssh.sftp((err, sftp) => {
      if (err) reject(new ConnectionError('tunnel', `the server refused the SFTP subsystem (needed to upload the agent): ${err.message}`, { cause: err }));
      else resolve(sftp);
    });
  });
}

/** A unique temporary name beside the final file. */
export function tempName(base: string): string {
  return `${base}.${randomBytes(6).toString('hex')}.tmp`;
}

/** Upload a local file or bytes to `remote` with `mode`. fastPut pipelines writes (64 requests in flight). */
export async function upload(sftp: SFTPWrapper, src: string | Uint8Array, remote: string, mode: number, what: string, onProgress?: ProgressFn): Promise<void> {
  let local = typeof src === 'string' ? src : null;
  let scratch: string | null = null;
  if (local === null) {
    scratch = mkdtempSync(join(tmpdir(), 'clx-upload-'));
    local = join(scratch, 'data');
    writeFileSync(local, src, { mode: 0o600 });
  }
  try {
    await new Promise<void>((resolve, reject) => {
      sftp.fastPut(local, remote, { mode, step: onProgress ? (sent, _chunk, total) => onProgress({ what, sent, total }) : undefined }, (err) =>
        err ? reject(new ConnectionError('tunnel', `upload of the ${what} to ${remote} failed: ${err.message}`, { cause: err })) : resolve(),
      );
    });
  } finally {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
}

/** First 16 hex chars of the sha256 of a file (content address), streamed: runtimes are ~100 MB. */
export async function fileHash16(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex').slice(0, 16);
}

/**
 * A progress callback drawing one cli-progress bar per upload on stderr.
 * Only meant for terminals: the CLI passes it when stderr is a TTY.
 */
export function ttyProgress(stream: NodeJS.WriteStream = process.stderr): ProgressFn {
  let bar: cliProgress.SingleBar | null = null;
  let current = '';
  return ({ what, sent, total }) => {
    if (what !== current || !bar) {
      bar?.stop();
      current = what;
      bar = new cliProgress.SingleBar(
        { stream, format: `uploading ${what} [{bar}] {percentage}% {value}/{total} KiB`, hideCursor: true, clearOnComplete: false },
        cliProgress.Presets.shades_classic,
      );
      bar.start(Math.ceil(total / 1024), 0);
    }
    bar.update(Math.ceil(sent / 1024));
    if (sent >= total) {
      bar.stop();
      bar = null;
    }
  };
}
