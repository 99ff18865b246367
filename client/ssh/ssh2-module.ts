/**
 * ssh2, loaded on first use rather than at import: loading it (its protocol
 * modules, asn1, bcrypt-pbkdf, the native crypto binding) is ~60 ms that
 * `clustrix --help`, local-only commands and local-only library users would
 * otherwise pay at every start.
 */
export type Ssh2Module = typeof import('ssh2');

let loading: Promise<Ssh2Module> | undefined;

export function loadSsh2(): Promise<Ssh2Module> {
  // Node's ESM loader only detects some of ssh2's named exports: take the default (module.exports).
  return (loading ??= import('ssh2').then((m) => (m as unknown as { default: Ssh2Module }).default));
}
