/** Dependency environments: built once per spec hash on the shared filesystem, reused after. */
import * as v from 'valibot';
import { returns, stream } from '../method.js';
import { Count } from '../schemas.js';
import type { EnvEnsureResult, EnvLogChunk } from '../types/envs.js';

const Str = (what: string) => v.pipe(v.string(`expected ${what}`), v.minLength(1, `${what} must not be empty`), v.maxLength(4096, `${what} too long`));
/** Never starts with `-`: every value becomes one argv element and must not read as an option. */
const NotOption = (what: string) =>
  v.pipe(
    Str(what),
    v.check((s) => !s.startsWith('-'), `${what} must not start with "-"`),
  );
const NoNul = (what: string) =>
  v.pipe(
    v.string(`expected ${what}`),
    v.check((s) => !s.includes('\0'), `${what} must not contain NUL`),
  );
const NpmName = v.pipe(Str('an npm package name'), v.regex(/^(@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*$/i, 'expected an npm package name'));
const EnvName = v.pipe(v.string(), v.regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected a variable name like FOO_BAR'));

const EnvSpecSchema = v.strictObject({
  node: v.optional(
    v.strictObject({
      packages: v.optional(v.record(NpmName, v.pipe(NotOption('a version'), v.regex(/^\S+$/, 'version must not contain spaces')))),
      tarballs: v.optional(v.array(Str('a tarball path'))),
      lockfileDir: v.optional(Str('a directory')),
      offline: v.optional(v.boolean()),
    }),
  ),
  python: v.optional(
    v.strictObject({
      interpreter: v.optional(Str('an interpreter')),
      requirements: v.optional(v.array(NotOption('a requirement'))),
      wheelDir: v.optional(Str('a directory')),
    }),
  ),
  modules: v.optional(v.array(NotOption('a module name'))),
  env: v.optional(v.record(EnvName, NoNul('a value'))),
});

/**
 * Make sure the environment for `spec` exists: build it once (streaming its
 * log), or wait for another builder holding the lease, or reuse it. Ends with
 * `{ hash, path, activate, built, durationMs }`.
 */
export const envsEnsure = stream(
  'envs.ensure',
  v.object({
    spec: EnvSpecSchema,
    /** Give up waiting for another builder after this long, ms. Default 30 min. */
    waitTimeoutMs: v.optional(v.pipe(Count, v.minValue(1)), 30 * 60_000),
    /** Limit of each build command, ms. Default 30 min. */
    commandTimeoutMs: v.optional(v.pipe(Count, v.minValue(1)), 30 * 60_000),
  }),
  returns<EnvLogChunk>(),
  returns<EnvEnsureResult>(),
);
