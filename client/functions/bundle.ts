/**
 * Bundle a module for the cluster: esbuild puts the module, everything it
 * imports and the function runner into ONE ESM file; its metafile is the
 * dependency analysis (which packages were bundled, which must be installed
 * on the cluster because they are native or asked to stay external).
 *
 * External packages are loaded with `require()` at run time (through the
 * bundle's createRequire shim), not with an ESM `import`: CommonJS resolution
 * honours NODE_PATH, which a dependency environment's `activate` sets, while
 * ESM resolution would only look beside the bundle file.
 *
 * The output is deterministic for the same sources, so its sha256 is the
 * bundle's identity: the cluster keeps one copy per hash and a second run of
 * the same code uploads nothing.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Metafile, Plugin } from 'esbuild';

export interface PackageRef {
  name: string;
  version: string | null;
}

export interface ExternalPackage extends PackageRef {
  /** Why it is not bundled. */
  reason: 'native' | 'asked';
  /** Where it is installed here (what `externals: 'upload'` packs), or null if it is not. */
  dir: string | null;
}

export interface BundledPackage extends PackageRef {
  /** Bytes this package contributes to the bundle. */
  bytes: number;
}

export interface Bundle {
  code: Buffer;
  sha256: string;
  /** The module that was bundled (absolute path). */
  module: string;
  /** Packages inlined into the bundle. */
  bundled: BundledPackage[];
  /** Packages the cluster must have installed (in a dependency environment). */
  external: ExternalPackage[];
  /** Source files of the module itself (absolute; not in node_modules, not clustrix's runtime). */
  files: string[];
}

export interface BundleOptions {
  /** Packages to leave out of the bundle and install on the cluster instead. */
  external?: string[];
  /** Inline source maps, so remote stack traces point into your sources. Default true. */
  sourcemap?: boolean;
}

/** A bundling failure: esbuild's messages, with file and line. */
export class BundleError extends Error {
  override name = 'BundleError';
  constructor(
    message: string,
    readonly errors: string[],
  ) {
    super(message);
  }
}

// CJS code bundled into ESM calls require() for Node built-ins and externals.
const REQUIRE_SHIM = "import { createRequire as __clxCreateRequire } from 'node:module'; const require = __clxCreateRequire(import.meta.url);";

/** Packages whose presence among a package's dependencies means it loads a compiled addon. */
const NATIVE_HELPERS = ['bindings', 'node-gyp-build', 'prebuild-install', '@mapbox/node-pre-gyp', 'node-pre-gyp', 'nan', 'node-addon-api', 'cmake-js'];

/** The runner and the `clustrix/job` module: from source (tests, tsx) or beside the built client. */
function runtimeFile(name: 'runner' | 'job'): string {
  const candidates = [
    new URL(`./runtime/${name}.ts`, import.meta.url),
    new URL(`./runtime/${name}.mjs`, import.meta.url),
    new URL(`./functions/runtime/${name}.ts`, import.meta.url),
  ];
  for (const u of candidates) {
    const p = fileURLToPath(u);
    if (existsSync(p)) return p;
  }
  throw new BundleError(`clustrix's function runtime (${name}) is missing next to ${fileURLToPath(import.meta.url)}; reinstall or rebuild clustrix`, []);
}

/** `@scope/name/sub` → `@scope/name`; `name/sub` → `name`. */
export function packageName(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

const isBuiltin = (spec: string) => spec.startsWith('node:') || builtinModules.includes(spec) || builtinModules.includes(spec.split('/')[0]!);

/** Find the directory of package `name` as Node would from `fromDir`. */
function findPackageDir(name: string, fromDir: string): string | null {
  for (let d = fromDir; ; d = dirname(d)) {
    const candidate = join(d, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(d) === d) return null;
  }
}

function readPackage(dir: string): { version?: string; gypfile?: boolean; dependencies?: Record<string, string> } {
  try {
    return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version?: string };
  } catch {
    return {};
  }
}

/** Does this package load a compiled addon (binding.gyp, gypfile, a known addon loader)? */
export function isNativePackage(dir: string): boolean {
  const pkg = readPackage(dir);
  if (pkg.gypfile || existsSync(join(dir, 'binding.gyp'))) return true;
  return Object.keys(pkg.dependencies ?? {}).some((d) => NATIVE_HELPERS.includes(d));
}

function externalsPlugin(asked: Set<string>, found: Map<string, ExternalPackage>): Plugin {
  return {
    name: 'clustrix-externals',
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, (args) => {
        if (isBuiltin(args.path) || args.path.startsWith('clustrix/')) return undefined;
        // The require() inside our own stub stays a real runtime require.
        if (args.namespace === 'clustrix-external') return { path: args.path, external: true };
        const name = packageName(args.path);
        let reason: ExternalPackage['reason'] | null = asked.has(name) ? 'asked' : null;
        const dir = findPackageDir(name, args.resolveDir);
        if (!reason && dir && isNativePackage(dir)) reason = 'native';
        if (!reason) return undefined;
        if (!found.has(name)) found.set(name, { name, version: dir ? (readPackage(dir).version ?? null) : null, reason, dir });
        return { path: args.path, namespace: 'clustrix-external' };
      });
      b.onLoad({ filter: /.*/, namespace: 'clustrix-external' }, (args) => ({
        contents: `module.exports = require(${JSON.stringify(args.path)});`,
        loader: 'js',
      }));
    },
  };
}

function runtimePlugin(job: string): Plugin {
  return {
    name: 'clustrix-runtime',
    setup(b) {
      b.onResolve({ filter: /^clustrix\/job$/ }, () => ({ path: job }));
    },
  };
}

/** The clustrix package's own directory (its runtime files and dependencies are not the user's). */
function clustrixRoot(runner: string): string {
  for (let d = dirname(runner); dirname(d) !== d; d = dirname(d)) if (existsSync(join(d, 'package.json'))) return d;
  return dirname(runner);
}

/** The user's packages and source files from the metafile, with the bytes each put into the output. */
function analyse(meta: Metafile, base: string, ours: string): { bundled: BundledPackage[]; files: string[] } {
  const out = Object.values(meta.outputs)[0];
  const bytes = new Map<string, number>();
  const dirs = new Map<string, string>();
  const files: string[] = [];
  for (const [rel, info] of Object.entries(out?.inputs ?? {})) {
    if (rel.includes(':')) continue; // virtual modules (externals' stubs)
    const path = resolve(base, rel);
    if (path === join(base, 'clustrix-entry.mjs') || path.startsWith(ours + '/')) continue;
    const m = /^(.*node_modules\/)((?:@[^/]+\/)?[^/]+)\//.exec(path);
    if (!m) {
      files.push(path);
      continue;
    }
    const name = m[2]!;
    bytes.set(name, (bytes.get(name) ?? 0) + info.bytesInOutput);
    dirs.set(name, m[1]! + name);
  }
  const bundled = [...bytes.entries()]
    .map(([name, b]) => ({ name, version: readPackage(dirs.get(name)!).version ?? null, bytes: b }))
    .sort((a, b) => a.name.localeCompare(b.name));
  return { bundled, files };
}

/** An absolute module path from a file: URL, a URL string, or a path (relative to the working directory). */
export function modulePath(m: string | URL): string {
  if (m instanceof URL) return fileURLToPath(m);
  if (m.startsWith('file:')) return fileURLToPath(m);
  return isAbsolute(m) ? m : resolve(m);
}

/** Bundle `module` and the function runner into one file. */
export async function bundleModule(module: string | URL, o: BundleOptions = {}): Promise<Bundle> {
  const file = modulePath(module);
  if (!existsSync(file)) throw new BundleError(`module ${file} does not exist`, []);
  const runner = runtimeFile('runner');
  const found = new Map<string, ExternalPackage>();
  const entry = `import * as mod from ${JSON.stringify(file)};\nimport { main } from ${JSON.stringify(runner)};\nawait main(mod);\n`;
  // esbuild is loaded here, not at import: ~45 ms every CLI start and library import would pay otherwise.
  const { build } = await import('esbuild');
  let result;
  try {
    result = await build({
      stdin: { contents: entry, resolveDir: dirname(file), sourcefile: 'clustrix-entry.mjs', loader: 'js' },
      // Paths in the output are relative to the module: the same code bundles to the same bytes from any cwd.
      absWorkingDir: dirname(file),
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node18',
      write: false,
      metafile: true,
      outfile: join(dirname(file), '.clustrix-bundle.mjs'),
      sourcemap: o.sourcemap === false ? false : 'inline',
      sourcesContent: false,
      // Source paths are relative to the module; the bundle runs elsewhere (the cluster's bundles dir),
      // so anchor them here: remote stack traces then name the files as they are on this machine.
      sourceRoot: pathToFileURL(dirname(file) + '/').href,
      banner: { js: REQUIRE_SHIM },
      legalComments: 'none',
      keepNames: true,
      logLevel: 'silent',
      plugins: [runtimePlugin(runtimeFile('job')), externalsPlugin(new Set(o.external ?? []), found)],
    });
  } catch (err) {
    const errors = ((err as { errors?: Array<{ text: string; location?: { file: string; line: number; column: number } | null }> }).errors ?? []).map((e) =>
      e.location ? `${e.location.file}:${e.location.line}:${e.location.column}: ${e.text}` : e.text,
    );
    throw new BundleError(`could not bundle ${file}:\n  ${errors.join('\n  ') || (err as Error).message}`, errors);
  }
  const output = result.outputFiles.find((f) => f.path.endsWith('.mjs'))!;
  const code = Buffer.from(output.contents);
  const { bundled, files } = analyse(result.metafile, dirname(file), clustrixRoot(runner));
  return {
    code,
    sha256: createHash('sha256').update(code).digest('hex'),
    module: file,
    bundled,
    external: [...found.values()].sort((a, b) => a.name.localeCompare(b.name)),
    files,
  };
}

/**
 * A bundle cache keyed by module and options, revalidated by the mtimes of
 * the module's own source files: calling a remote function again skips esbuild.
 */
export class BundleCache {
  readonly #entries = new Map<string, { bundle: Bundle; mtimes: Array<[string, number]> }>();

  async get(module: string | URL, o: BundleOptions = {}): Promise<Bundle> {
    const key = JSON.stringify([modulePath(module), [...(o.external ?? [])].sort(), o.sourcemap !== false]);
    const hit = this.#entries.get(key);
    if (hit && hit.mtimes.every(([f, t]) => mtime(f) === t)) return hit.bundle;
    const bundle = await bundleModule(module, o);
    this.#entries.set(key, { bundle, mtimes: bundle.files.map((f) => [f, mtime(f)]) });
    return bundle;
  }
}

function mtime(f: string): number {
  try {
    return statSync(f).mtimeMs;
  } catch {
    return -1;
  }
}
