/**
 * Raw-bytes handling. File names are bytes; the protocol carries strings.
 * A name that is valid UTF-8 travels as its string. One that is not travels
 * as a lossy string (U+FFFD) plus its exact bytes in `raw`, and a path given
 * back as bytes is used as bytes: no byte is ever lost or rewritten.
 */

/** A path as handed to node:fs: a string when valid UTF-8, else the exact bytes. */
export type FsPath = string | Buffer;

// ignoreBOM: keep a leading U+FEFF, it is part of the name.
const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const lossy = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/** The exact string of valid UTF-8 bytes, or undefined when they are not valid UTF-8. */
export function decodeStrict(bytes: Uint8Array): string | undefined {
  try {
    return strict.decode(bytes);
  } catch {
    return undefined;
  }
}

/** A display string for any bytes (invalid sequences become U+FFFD). */
export function decodeLossy(bytes: Uint8Array): string {
  return lossy.decode(bytes);
}

/** Node decodes names lossily; a U+FFFD in one means it may have lost bytes. */
export function mayBeLossy(name: string): boolean {
  return name.includes('\uFFFD');
}

/** Params accept bytes; valid UTF-8 becomes a plain string so the fast string paths apply. */
export function toFsPath(p: string | Uint8Array): FsPath {
  if (typeof p === 'string') return p;
  const s = decodeStrict(p);
  return s ?? Buffer.from(p.buffer, p.byteOffset, p.byteLength);
}

/** The display string of a path. */
export function showPath(p: FsPath): string {
  return typeof p === 'string' ? p : decodeLossy(p);
}

/** The bytes of a path. */
export function pathBytes(p: FsPath): Buffer {
  return typeof p === 'string' ? Buffer.from(p, 'utf8') : p;
}

const SLASH = Buffer.from('/');

/**
 * Join a directory and a name like GNU find prints them: one slash between,
 * none added when the directory already ends with one (`find d/` prints `d/x`).
 */
export function joinPath(dir: string, name: string): string {
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}

/** joinPath for byte paths. */
export function joinBytes(dir: FsPath, name: FsPath): Buffer {
  const d = pathBytes(dir);
  const n = pathBytes(name);
  return d[d.length - 1] === 0x2f ? Buffer.concat([d, n]) : Buffer.concat([d, SLASH, n]);
}

/** `{ name, raw? }` for a name read as bytes. */
export function nameFromBytes(u: Uint8Array): { name: string; raw?: Buffer } {
  // fs threads answer with plain Uint8Arrays (structured clone): view them as Buffers, no copy.
  const bytes = Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
  const s = decodeStrict(bytes);
  return s === undefined ? { name: decodeLossy(bytes), raw: bytes } : { name: s };
}
