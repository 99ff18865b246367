#!/usr/bin/env node
// Build: the agent as ONE self-contained file (dist/agent.mjs, no node_modules
// needed where it runs), the client library and the CLI (dependencies external).
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/**
 * What the CLI and the agent bundles share: CommonJS that a launcher runs through V8's code cache in a
 * `vm.Script`, which has no module loader of its own (import() becomes require()) and no import.meta.
 */
const forVmScript = {
  format: 'cjs',
  supported: { 'dynamic-import': false },
  banner: { js: `"use strict";\nconst __clxMetaUrl = require('node:url').pathToFileURL(__filename).href;` },
};
const metaUrl = { 'import.meta.url': '__clxMetaUrl' };

/** The 16 hex of sha256 that name a code cache file. */
const sha16 = (bytes) => createHash('sha256').update(bytes).digest('hex').slice(0, 16);

/** Hard cap on the agent bundle (issue: one file ≤ 1 MB). */
const AGENT_MAX_BYTES = 1024 * 1024;

const common = {
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node18',
  sourcemap: false,
  logLevel: 'warning',
  legalComments: 'none',
};

/**
 * The CLI bundles its pure-JS dependencies: one file loads faster than resolving and compiling each
 * package's modules (with ssh2 and esbuild loaded lazily, `clustrix --help` 0.32 → 0.20 s; bare node
 * 0.07 s). ssh2 (native binding, loaded on first SSH use) and esbuild (its binary; loaded when bundling
 * a function) stay packages, as do the optional native accelerators. The bundle is CommonJS
 * (dist/cli-main.cjs) so that dist/cli.mjs (client/cli/launch.ts) can run it through V8's code cache;
 * the launcher is told the bundle's content hash, which names the cache file.
 */
async function cliBuild() {
  await build({
    ...common,
    ...forVmScript,
    entryPoints: ['client/cli/main.ts'],
    outfile: 'dist/cli-main.cjs',
    define: { ...metaUrl, __CLX_VERSION__: JSON.stringify(pkg.version) },
    external: ['ssh2', 'esbuild', 'msgpackr-extract', 'bufferutil', 'utf-8-validate'],
  });
  const hash = sha16(readFileSync(join(root, 'dist/cli-main.cjs')));
  await build({
    ...common,
    entryPoints: ['client/cli/launch.ts'],
    outfile: 'dist/cli.mjs',
    define: { __CLX_CLI_MAIN_HASH__: JSON.stringify(hash) },
  });
}

/**
 * dist/agent.mjs is ONE file: agent/launch.ts, with the agent itself (agent/main.ts bundled as
 * CommonJS) embedded as a string that the launcher runs through V8's code cache (agent/code-cache.ts).
 * The launcher is told the code's content hash, which names the cache file.
 */
async function agentBuild() {
  const main = await build({
    ...common,
    ...forVmScript,
    entryPoints: ['agent/main.ts'],
    outfile: 'dist/agent-main.cjs',
    write: false,
    define: metaUrl,
    // Optional native accelerators: the libraries fall back to JS without them.
    external: ['msgpackr-extract', 'bufferutil', 'utf-8-validate'],
    minify: true,
    keepNames: true,
  });
  const code = main.outputFiles[0].text;
  const hash = sha16(code);
  const launcher = await build({
    ...common,
    entryPoints: ['agent/launch.ts'],
    outfile: 'dist/agent.mjs',
    write: false,
    define: { __CLX_AGENT_MAIN_HASH__: JSON.stringify(hash) },
    minify: true,
  });
  mkdirSync(join(root, 'dist'), { recursive: true });
  // Code caches of earlier builds, left by running dist/agent.mjs in place (tests, by hand).
  for (const f of readdirSync(join(root, 'dist'))) if (/^code-[0-9a-f]{16}-.*\.bin$/.test(f)) rmSync(join(root, 'dist', f), { force: true });
  writeFileSync(join(root, 'dist/agent.mjs'), `#!/usr/bin/env node\nconst __CLX_AGENT_MAIN__ = ${JSON.stringify(code)};\n${launcher.outputFiles[0].text}`);
}

await Promise.all([
  agentBuild(),
  build({ ...common, entryPoints: ['client/index.ts'], outfile: 'dist/client.mjs', packages: 'external' }),
  cliBuild(),
  // The function runtime, bundled by the client into every function bundle: the
  // runner, and `clustrix/job` (what code inside a job imports).
  build({ ...common, entryPoints: ['client/functions/runtime/runner.ts'], outfile: 'dist/runtime/runner.mjs', packages: 'external' }),
  build({ ...common, entryPoints: ['client/functions/runtime/job.ts'], outfile: 'dist/runtime/job.mjs', packages: 'external' }),
]);

// Type declarations for the library and `clustrix/job` (dist/types), as a consumer's TypeScript reads them.
if (!process.env.CLUSTRIX_BUILD_NO_TYPES) {
  rmSync(join(root, 'dist', 'types'), { recursive: true, force: true });
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], {
    stdio: 'inherit',
  });
  if (tsc.status !== 0) {
    console.error('type declarations failed (tsc -p tsconfig.build.json)');
    process.exit(1);
  }
}

const size = statSync(join(root, 'dist/agent.mjs')).size;
if (size > AGENT_MAX_BYTES) {
  console.error(`dist/agent.mjs is ${size} bytes, over the ${AGENT_MAX_BYTES}-byte budget`);
  process.exit(1);
}
if (process.env.CLUSTRIX_BUILD_VERBOSE) console.error(`dist/agent.mjs: ${(size / 1024).toFixed(0)} KiB`);
