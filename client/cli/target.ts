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
