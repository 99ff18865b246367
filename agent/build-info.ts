/**
 * The agent's identity: a content hash of its own bundle file. The client
 * computes the same hash over the bundle it ships, so "same hash" means
 * "same code", and the install path `<root>/agent/<hash>/agent.mjs` is
 * content-addressed.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Hex characters of the sha256 kept in build ids. */
export const BUILD_HASH_CHARS = 16;

export function hashBundle(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, BUILD_HASH_CHARS);
}

let cached: string | null = null;
export function ownBuild(): string {
  if (cached === null) cached = hashBundle(readFileSync(fileURLToPath(import.meta.url)));
  return cached;
}

export function ownBundlePath(): string {
  return fileURLToPath(import.meta.url);
}
