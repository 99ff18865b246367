/**
 * Host key policy for one hop: verify the server's key against known_hosts,
 * refuse unknown keys unless accept-new was asked for (then append the key
 * once the key exchange has completed, like OpenSSH), and ALWAYS refuse a
 * changed or revoked key, saying which fingerprint we got and where the old
 * one is recorded. There is no accept-any mode.
 */
import { ConnectionError } from '../errors.js';
import {
  appendKnownHost,
  checkHostKey,
  fingerprint,
  hostKeyName,
  keyTypeOf,
  knownHostLine,
  knownKeyAlgorithms,
  loadKnownHosts,
  type HostKeyVerdict,
} from './known-hosts.js';
import type { ResolvedHost } from './resolve.js';

export interface HostKeyOptions {
  /** Accept and record an unknown host key (OpenSSH `StrictHostKeyChecking accept-new`). Default: from ssh_config, else false. */
  acceptNewHostKey?: boolean;
  /** Replace the user known_hosts files from ssh_config (the first one receives accepted keys). */
  knownHostsFiles?: string[];
}

export interface HostKeyCheck {
  /** The known_hosts name looked up (`host` or `[host]:port`). */
  name: string;
  /** For ssh2's `hostVerifier`: synchronous, never throws. */
  verify(key: Buffer): boolean;
  /** Host key algorithms to prefer (types we already know for this host). */
  preferredAlgorithms: string[];
  /** What was decided, once the server showed its key. */
  verdict: HostKeyVerdict | null;
  presented: { type: string; fingerprint: string } | null;
  /** The refusal, as the error to throw, if the key was refused. */
  failure: ConnectionError | null;
  /** Call after the handshake: appends an accepted new key. */
  commit(): void;
}

export function createHostKeyCheck(h: ResolvedHost, opts: HostKeyOptions = {}): HostKeyCheck {
  const userFiles = opts.knownHostsFiles ?? h.userKnownHostsFiles;
  const files = [...userFiles, ...(opts.knownHostsFiles ? [] : h.globalKnownHostsFiles)];
  const entries = loadKnownHosts(files);
  const name = hostKeyName(h.hostname, h.port, h.hostKeyAlias);
  const acceptNew = opts.acceptNewHostKey ?? (h.strictHostKeyChecking === 'accept-new' || h.strictHostKeyChecking === 'no');
  let pending: string | null = null;
  const check: HostKeyCheck = {
    name,
    preferredAlgorithms: knownKeyAlgorithms(entries, name),
    verdict: null,
    presented: null,
    failure: null,
    verify(key) {
      const fp = fingerprint(key);
      const type = keyTypeOf(key);
      check.presented = { type, fingerprint: fp };
      const v = checkHostKey(entries, name, key);
      check.verdict = v;
      const where = (e: { file: string; line: number }) => `${e.file}:${e.line}`;
      const details = { host: name, fingerprint: fp, keyType: type, verdict: v.status };
      switch (v.status) {
        case 'known':
          return true;
        case 'revoked':
          check.failure = new ConnectionError('host-key', `host key for ${name} (${type} ${fp}) is marked @revoked in ${where(v.entry)}; refusing to connect`, {
            details,
          });
          return false;
        case 'changed':
          check.failure = new ConnectionError(
            'host-key',
            `HOST KEY FOR ${name} HAS CHANGED: the server presented ${type} ${fp}, but ${v.expected.map((e) => `${fingerprint(e.key)} (${where(e)})`).join(', ')} is recorded. ` +
              `Someone could be intercepting the connection, or the host was reinstalled. If you know it was, remove the old entry (ssh-keygen -R '${name}') and connect again.`,
            { details: { ...details, expected: v.expected.map((e) => fingerprint(e.key)) } },
          );
          return false;
        case 'other-type':
          check.failure = new ConnectionError(
            'host-key',
            `host ${name} presented a ${type} key (${fp}) but only ${[...new Set(v.expected.map((e) => e.keyType))].join(', ')} keys are recorded (${v.expected.map(where).join(', ')}); ` +
              `refusing a key of a new type for a known host. Verify the fingerprint with the site, then add it with ssh-keyscan or ssh.`,
            { details },
          );
          return false;
        case 'unknown':
          if (acceptNew) {
            pending = knownHostLine(name, key, h.hashKnownHosts);
            return true;
          }
          check.failure = new ConnectionError(
            'host-key',
            `host key for ${name} is not known (${type} ${fp}; looked in ${files.join(', ') || 'no known_hosts files'}). ` +
              (v.certAuthorities > 0 ? 'Only @cert-authority lines match this host, and host certificates are not supported; add the host key itself. ' : '') +
              `Check the fingerprint with your site, then connect once with \`ssh ${h.alias}\`, or pass acceptNewHostKey (CLI: --accept-new-host-key).`,
            { details },
          );
          return false;
      }
    },
    commit() {
      if (pending === null) return;
      const target = userFiles[0];
      if (target) appendKnownHost(target, pending);
      pending = null;
    },
  };
  return check;
}
