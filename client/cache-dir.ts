/** The client's cache dir on this machine: $CLUSTRIX_CACHE_DIR, else $XDG_CACHE_HOME/clustrix, else ~/.cache/clustrix. */
import { homedir } from 'node:os';
import { join } from 'node:path';

export function clustrixCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.CLUSTRIX_CACHE_DIR || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'clustrix');
}
