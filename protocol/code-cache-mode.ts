/**
 * The convention the CLI and the agent share for V8's code cache of
 * themselves (client/cli/code-cache.ts, agent/code-cache.ts): the
 * CLUSTRIX_CODE_CACHE switch and the cache file's name. No I/O here; each
 * side reads and writes its files with its own trust rules.
 */

export type CodeCacheMode = 'on' | 'off' | 'report';

/** CLUSTRIX_CODE_CACHE: off (also 0, false, no), report (what happened, on stderr at exit), else on. */
export function codeCacheMode(env: NodeJS.ProcessEnv = process.env): CodeCacheMode {
  const v = (env.CLUSTRIX_CODE_CACHE ?? '').toLowerCase();
  if (v === 'off' || v === '0' || v === 'false' || v === 'no') return 'off';
  return v === 'report' ? 'report' : 'on';
}

/**
 * `<kind>-<code hash>-v8-<version>-<arch>.bin`: V8 checks only the source's length, so the name carries
 * the content hash, and the V8 version and CPU, since hosts sharing a directory may run different ones.
 */
export function codeCacheName(kind: string, codeHash: string): string {
  return `${kind}-${codeHash}-v8-${process.versions.v8}-${process.arch}.bin`;
}
