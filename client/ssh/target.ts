/**
 * What a user may type as an SSH target: an ssh_config alias, `host`,
 * `user@host`, `user@host:port`, `host:port`, `[v6addr]:port`, or the URI
 * form `ssh://user@host:port` (also accepted in ProxyJump lists).
 */
export interface TargetSpec {
  host: string;
  user?: string;
  port?: number;
}

function parsePort(s: string, whole: string): number {
  const n = Number(s);
  if (!/^\d+$/.test(s) || n < 1 || n > 65535) throw new TypeError(`invalid port "${s}" in SSH target "${whole}"`);
  return n;
}

export function parseTargetSpec(target: string): TargetSpec {
  const whole = target;
  let rest = target.trim();
  if (rest.startsWith('ssh://')) rest = rest.slice(6).replace(/\/$/, '');
  if (rest === '') throw new TypeError('empty SSH target');
  const spec: TargetSpec = { host: '' };
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    spec.user = rest.slice(0, at);
    rest = rest.slice(at + 1);
    if (spec.user === '') throw new TypeError(`empty user in SSH target "${whole}"`);
  }
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) throw new TypeError(`unclosed "[" in SSH target "${whole}"`);
    spec.host = rest.slice(1, close);
    const after = rest.slice(close + 1);
    if (after.startsWith(':')) spec.port = parsePort(after.slice(1), whole);
    else if (after !== '') throw new TypeError(`unexpected "${after}" in SSH target "${whole}"`);
  } else {
    const colons = rest.split(':').length - 1;
    if (colons === 1) {
      const [h, p] = rest.split(':') as [string, string];
      spec.host = h;
      spec.port = parsePort(p, whole);
    } else spec.host = rest; // no port, or a bare IPv6 address
  }
  if (spec.host === '' || /[\s/\0]/.test(spec.host)) throw new TypeError(`invalid host in SSH target "${whole}"`);
  return spec;
}

export interface TokenContext {
  /** Remote host name (after HostName). */
  h: string;
  /** Host name as typed (the alias). */
  n: string;
  p: number;
  r: string;
  /** Local user, home, uid, host name. */
  u: string;
  d: string;
  i: number;
  l: string;
}

/** ssh_config `%` tokens and a leading `~`. Unknown tokens are left as written. */
export function expandTokens(value: string, ctx: TokenContext): string {
  const v = value.replace(/%([%hnprudil])/g, (_m, t: string) => (t === '%' ? '%' : String(ctx[t as keyof TokenContext])));
  if (v === '~') return ctx.d;
  return v.startsWith('~/') ? ctx.d + v.slice(1) : v;
}
