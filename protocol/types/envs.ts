/** Types of dependency environments (`envs.ensure`). */

/**
 * What an environment contains. Paths on the cluster are absolute or relative
 * to the agent's home. Local files (tarballs, lock files, wheels) are hashed by
 * content, so changing one gives a new environment.
 */
export interface EnvSpec {
  node?: {
    /** npm packages: name → version or range (`"lodash": "4.17.21"`). */
    packages?: Record<string, string>;
    /** Package tarballs on the cluster (`npm pack` output). */
    tarballs?: string[];
    /** A directory holding package.json + package-lock.json; installed with `npm ci`. */
    lockfileDir?: string;
    /** Use only the npm cache and local files (`--offline`). Default false (`--prefer-offline`). */
    offline?: boolean;
  };
  python?: {
    /** Interpreter path or name on PATH. Default `python3`. */
    interpreter?: string;
    /** pip requirement strings (`numpy==1.26.4`, `clx-tiny`). */
    requirements?: string[];
    /** A directory of wheels: installs with `--no-index --find-links DIR` (no network). */
    wheelDir?: string;
  };
  /** Environment modules, loaded in order (`module load NAME`) before building and in `activate`. */
  modules?: string[];
  /** Variables exported during the build and in `activate`. */
  env?: Record<string, string>;
}

/** One streamed piece of build output. */
export interface EnvLogChunk {
  /** `info`: a line from the agent (step started, waiting for a lease…). */
  stream: 'stdout' | 'stderr' | 'info';
  lines: string[];
}

export interface EnvEnsureResult {
  /** sha256 of the canonical spec plus the content digests of its local files. */
  hash: string;
  /** `<root>/envs/<hash>`: holds `activate`, `ready.json`, `spec.json`, `node/`, `python/`. */
  path: string;
  /** `. <activate>` sets up modules, variables, PATH, NODE_PATH, PYTHONPATH. */
  activate: string;
  /** True if this call built it; false if it was ready or another builder made it. */
  built: boolean;
  durationMs: number;
}

/** Contents of `<root>/envs/<hash>/ready.json`. */
export interface EnvReady {
  hash: string;
  builtAt: number;
  host: string;
  pid: number;
  buildMs: number;
}
