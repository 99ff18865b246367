/**
 * CLI operands of the form `host:path`, `local:path` or a bare path (local).
 * A colon only separates a host when nothing before it looks like a path
 * (no slash), so `./a:b` and `/x:y` are plain local paths.
 */
export interface Target {
  /** 'local' or an ssh target (alias, user@host, user@host:port is written host with -p). */
  host: string;
  path: string;
}

export function parseTarget(operand: string, defaultPath = '.'): Target {
  const colon = operand.indexOf(':');
  if (colon > 0) {
    const host = operand.slice(0, colon);
    if (!host.includes('/')) {
      const path = operand.slice(colon + 1);
      return { host, path: path === '' ? defaultPath : path };
    }
  }
  return { host: 'local', path: operand === '' ? defaultPath : operand };
}

/** A bare host operand (`status`, `agent stop`): 'local' when omitted. */
export function parseHost(operand: string | undefined): string {
  if (!operand) return 'local';
  return operand.endsWith(':') ? operand.slice(0, -1) : operand;
}

/**
 * A filesystem operand. `path` is what the agent is asked about: a relative
 * local path is made absolute against this process's working directory (the
 * local agent is a separate process; it would resolve it against home, as a
 * remote agent does for `host:relative`). `given` is the path as written,
 * which is what the GNU tools print.
 */
export interface FsTarget extends Target {
  given: string;
}

export function parseFsTarget(operand: string, defaultPath = '.', cwd = process.cwd()): FsTarget {
  const t = parseTarget(operand, defaultPath);
  return { host: t.host, given: t.path, path: t.host === 'local' ? localPath(t.path, cwd) : t.path };
}

/** A local path for the agent: absolute and `~` paths as they are, relative ones under cwd (joined, not normalized: `./x` stays `cwd/./x`). */
export function localPath(path: string, cwd = process.cwd()): string {
  if (path.startsWith('/') || path === '~' || path.startsWith('~/')) return path;
  return `${cwd.endsWith('/') ? cwd : `${cwd}/`}${path}`;
}
