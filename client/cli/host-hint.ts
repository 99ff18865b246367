/**
 * `clustrix ls mycluster` lists ./mycluster on this machine, as scp would read
 * it. When that local path does not exist and the word is a Host of the
 * user's ssh config, the error says what was probably meant.
 */
import { readConfigFiles } from '../ssh/config.js';
import { defaultConfigFiles } from '../ssh/resolve.js';
import { RemoteError } from '../errors.js';

/** The exact (non-pattern) Host names of the ssh config files. */
export function sshHostAliases(files: readonly string[] = defaultConfigFiles()): Set<string> {
  const out = new Set<string>();
  let texts: string[];
  try {
    texts = readConfigFiles(files);
  } catch {
    return out; // only a hint: an unreadable config is connect's to report
  }
  for (const text of texts) {
    for (const m of text.matchAll(/^[ \t]*host[ \t]*[= \t][ \t]*(.+)$/gim)) {
      for (const name of m[1]!.trim().split(/\s+/)) if (!/[*?!]/.test(name)) out.add(name.replace(/^"|"$/g, ''));
    }
  }
  return out;
}

/** A sentence to add to a failure on a local operand that names an ssh host; '' otherwise. */
export function hostHint(t: { host: string; path: string }, err: unknown, aliases: () => Set<string> = sshHostAliases): string {
  if (t.host !== 'local' || t.path.includes('/') || !(err instanceof RemoteError) || err.code !== 'ENOENT') return '';
  if (!aliases().has(t.path)) return '';
  return ` (${t.path} is a host in your ssh config: write ${t.path}: for its home directory, ${t.path}:path for a path on it)`;
}
