/**
 * Process-wide defaults for SSH options, below what callers pass. The CLI
 * installs its terminal prompts (passphrase, keyboard-interactive) and the
 * upload progress bar here, so every command gets them without threading
 * options through each one. Libraries using `connect()` get no prompts
 * unless they pass callbacks: a library must never read the terminal.
 */
import type { RemoteOptions } from './remote.js';

let defaults: Partial<RemoteOptions> = {};

export function setSshDefaults(d: Partial<RemoteOptions>): void {
  defaults = { ...d };
}

export function withSshDefaults<T extends RemoteOptions>(opts: T): T & RemoteOptions {
  const out: T & RemoteOptions = { ...opts };
  for (const [k, v] of Object.entries(defaults)) {
    if ((out as Record<string, unknown>)[k] === undefined) (out as Record<string, unknown>)[k] = v;
  }
  return out;
}
