/** Read one directory into named, typed entries without losing bytes (glob uses it). */
import { readdir } from 'node:fs/promises';
import type { FileType } from '../../protocol/index.js';
import { typeOfDirent } from './info.js';
import { joinBytes, mayBeLossy, nameFromBytes, type FsPath } from './names.js';

export interface NamedEntry {
  /** The name (lossy when not UTF-8). */
  name: string;
  /** Exact bytes of the name when not UTF-8. */
  raw: Buffer | undefined;
  /** Path for fs calls. */
  io: FsPath;
  /** From d_type ('unknown' when the filesystem does not say). */
  type: FileType;
}

/**
 * The entries of `dir`, sorted by name in byte order (libuv's scandir sorts
 * with strcmp). Names Node had to decode lossily are read again as bytes.
 */
export async function readEntries(dir: FsPath): Promise<NamedEntry[]> {
  if (typeof dir === 'string') {
    const ents = await readdir(dir, { withFileTypes: true });
    if (!ents.some((e) => mayBeLossy(e.name))) {
      const prefix = dir.endsWith('/') ? dir : `${dir}/`;
      return ents.map((e) => ({ name: e.name, raw: undefined, io: prefix + e.name, type: typeOfDirent(e) }));
    }
  }
  const ents = await readdir(dir, { withFileTypes: true, encoding: 'buffer' });
  return ents.map((e) => {
    const { name, raw } = nameFromBytes(e.name);
    const io = raw === undefined && typeof dir === 'string' ? (dir.endsWith('/') ? dir : `${dir}/`) + name : joinBytes(dir, e.name);
    return { name, raw, io, type: typeOfDirent(e) };
  });
}
