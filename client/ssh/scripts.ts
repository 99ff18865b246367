/**
 * Every remote shell script the client runs, in one place. Each is ONE line
 * of POSIX sh (tcsh login shells reject newlines inside quotes), and every
 * value in it comes from `shQuote` — constants aside, there is no other way
 * for data to enter a command line. Output the client must find is framed by
 * magic markers, because login shells print banners and .bashrc chatter first.
 */
import { shQuote } from './quote.js';

export const MARK = {
  needInstall: '@@CLUSTRIX-NEED-INSTALL@@',
  warm: '@@CLUSTRIX-WARM@@',
  probe: '@@CLUSTRIX-PROBE@@',
  installed: '@@CLUSTRIX-INSTALLED@@',
  badHash: '@@CLUSTRIX-BAD-HASH@@',
  bridge: '@@CLUSTRIX-BRIDGE@@',
  serve: '@@CLUSTRIX-SERVE@@',
  end: '@@CLUSTRIX-END@@',
} as const;

export interface AgentPlace {
  /** Root as the user gave it (absolute, `~/…`, or relative to $HOME); undefined = ~/.clustrix. */
  root?: string | undefined;
  /** Agent build hash (content address). */
  build: string;
  /** Run dir; undefined = the agent's default. */
  runDir?: string | undefined;
  /** Node binary to use instead of the one recorded at install time. */
  nodePath?: string | undefined;
  idleExitMs?: number | undefined;
}

/** A path as a shell word: `~/x` and relative paths are under $HOME (the exec cwd is not guaranteed). */
export function remotePath(p: string): string {
  if (p === '~') return '"$HOME"';
  if (p.startsWith('~/')) return `"$HOME"/${shQuote(p.slice(2))}`;
  if (p.startsWith('/')) return shQuote(p);
  return `"$HOME"/${shQuote(p)}`;
}

const BUILD_RE = /^[0-9a-f]{8,64}$/;

/** Sets r (root), b (build dir), a (agent.mjs) and n (node: configured, else recorded at install). */
function setPlace(p: AgentPlace): string {
  if (!BUILD_RE.test(p.build)) throw new TypeError(`invalid build hash "${p.build}"`);
  const r = p.root === undefined ? '"$HOME"/.clustrix' : remotePath(p.root);
  const n = p.nodePath ? remotePath(p.nodePath) : '$(cat "$b/node-path" 2>/dev/null)';
  return `r=${r}; b="$r/agent/"${p.build}; a="$b/agent.mjs"; n=${n}`;
}

/** Sets d to the run dir exactly as the agent picks it ($XDG_RUNTIME_DIR/clustrix if ours, else /tmp/clustrix-<uid>). */
function setRunDir(p: AgentPlace): string {
  if (p.runDir) return `d=${remotePath(p.runDir)}`;
  return 'case "$XDG_RUNTIME_DIR" in /*) if [ -d "$XDG_RUNTIME_DIR" ] && [ -O "$XDG_RUNTIME_DIR" ]; then d="$XDG_RUNTIME_DIR/clustrix"; else d=/tmp/clustrix-$(id -u); fi;; *) d=/tmp/clustrix-$(id -u);; esac';
}

function agentArgs(p: AgentPlace): string {
  let s = '--root "$r"';
  if (p.runDir) s += ` --run-dir ${remotePath(p.runDir)}`;
  if (p.idleExitMs !== undefined) s += ` --idle-exit-ms ${Math.max(0, Math.floor(p.idleExitMs))}`;
  return s;
}

/**
 * The connect path, one exec, no node process when the agent is already up:
 * 1. warm: our build's agent holds the lock in an owned run dir → print pid, token, run dir, root;
 * 2. else, installed and a node is known:
 *    - direct (no live process holds the lock, and `setsid` exists): print the
 *      SERVE marker and launch `agent.mjs serve` detached, its readiness line
 *      (`{"ok":true,"info":…}`) written on fd 3 = our stdout, which it closes
 *      once listening, so the exec ends exactly when the agent is ready. One
 *      node process instead of two (`start` then `serve`): node's startup is
 *      most of a cold connect (~130 ms per process on a small login node);
 *    - otherwise `exec node agent.mjs start` (prints the start line; replaces
 *      an agent of another build, waits out a racing starter);
 * 3. else print NEED-INSTALL.
 */
export function connectScript(p: AgentPlace, opts: { allowWarm: boolean; direct?: boolean }): string {
  const warm =
    `if [ -d "$d" ] && [ -O "$d" ] && [ ! -L "$d" ] && [ -S "$d/agent.sock" ] && [ -O "$d/agent.token" ]; then ` +
    `l=$(cat "$d/agent.lock" 2>/dev/null); case "$l" in *'"build":"'${p.build}'"'*) q=\${l#*'"pid":'}; q=\${q%%,*}; ` +
    `if kill -0 "$q" 2>/dev/null && t=$(cat "$d/agent.token" 2>/dev/null); then ` +
    `printf '%s\\n%s\\n%s\\n%s\\n%s\\n%s\\n' ${MARK.warm} "$q" "$t" "$d" "$r" ${MARK.end}; exit 0; fi;; esac; fi; `;
  const direct =
    `l=$(cat "$d/agent.lock" 2>/dev/null); q=\${l#*'"pid":'}; q=\${q%%,*}; ` +
    `if { [ -z "$l" ] || ! kill -0 "$q" 2>/dev/null; } && command -v setsid >/dev/null 2>&1; then printf '%s\\n' ${MARK.serve}; ` +
    `CLUSTRIX_READY_FD=3 setsid "$n" "$a" serve ${agentArgs(p)} 3>&1 >/dev/null 2>&1 </dev/null & exit 0; fi; `;
  return (
    `${setPlace(p)}; ${setRunDir(p)}; ${opts.allowWarm ? warm : ''}` +
    `if [ -f "$a" ] && [ -n "$n" ] && [ -x "$n" ]; then ${opts.direct === false ? '' : direct}exec "$n" "$a" start ${agentArgs(p)}; fi; echo ${MARK.needInstall}`
  );
}

/** `agent.mjs <command>` (status, stop) with the recorded node, using ANY installed build if ours is missing. */
export function agentCommandScript(p: AgentPlace, command: 'status' | 'stop'): string {
  return (
    `${setPlace(p)}; if [ ! -f "$a" ] || [ ! -x "$n" ]; then for x in "$r"/agent/*/agent.mjs; do y=$(cat "\${x%/agent.mjs}/node-path" 2>/dev/null); ` +
    `if [ -f "$x" ] && [ -n "$y" ] && [ -x "$y" ]; then a=$x; n=$y; break; fi; done; fi; ` +
    `if [ -f "$a" ] && [ -n "$n" ] && [ -x "$n" ]; then exec "$n" "$a" ${command} ${agentArgs(p)}; fi; echo ${MARK.needInstall}`
  );
}

/** The exec-bridge tunnel: a marker (so login noise can be skipped), then stdio ↔ agent socket. */
export function bridgeScript(p: AgentPlace & { runDir: string }): string {
  const d = remotePath(p.runDir);
  return (
    `${setPlace(p)}; [ -x "$n" ] || { echo "no node at $n" >&2; exit 127; }; [ -S ${d}/agent.sock ] || { echo "no agent socket in "${d} >&2; exit 3; }; ` +
    `printf '%s\\n' ${MARK.bridge}; exec "$n" "$a" bridge --run-dir ${d}`
  );
}

/** Module names are passed to the login shell as arguments, and also restricted to a plain alphabet. */
const MODULE_RE = /^[A-Za-z0-9._+/-]{1,100}$/;

/**
 * Facts for choosing a node runtime, as `key=value` lines after a marker:
 * os, arch, libc, home, absolute root, and node candidates (configured, PATH,
 * login shell, `module load` candidates) with their `--version`. Also creates
 * the build dir (umask 077) so the upload can start right away.
 */
export function probeScript(p: AgentPlace, moduleCandidates: readonly string[]): string {
  for (const m of moduleCandidates) if (!MODULE_RE.test(m)) throw new TypeError(`invalid module name "${m}"`);
  const report = (src: string, expr: string) =>
    `c=${expr}; if [ -n "$c" ] && [ -x "$c" ]; then printf 'node.${src}=%s\\t%s\\n' "$c" "$("$c" --version 2>/dev/null </dev/null)"; fi`;
  // The login shell gets a marker first, so whatever its startup files print is cut off.
  const login = (pre: string, preCsh: string, arg = '') =>
    `o=$(case "$SHELL" in *csh) "$SHELL" -c '${preCsh}echo @@M@@; which node' ${arg};; *) "$SHELL" -l -c '${pre}echo @@M@@; command -v node' sh ${arg};; esac 2>/dev/null </dev/null); o=\${o##*@@M@@}; o=$(printf '%s' "$o" | tail -n 1)`;
  const parts = [
    setPlace(p),
    `printf '%s\\n' ${MARK.probe}`,
    `printf 'os=%s\\narch=%s\\nhome=%s\\nroot=%s\\nshell=%s\\n' "$(uname -s)" "$(uname -m)" "$HOME" "$r" "$SHELL"`,
    `if (ldd --version 2>&1 | grep -qi musl); then printf 'libc=musl\\n'; else printf 'libc=%s\\n' "$(getconf GNU_LIBC_VERSION 2>/dev/null | tr ' ' '-')"; fi`,
    `(umask 077; mkdir -p "$b") && printf 'mkdir=ok\\n'`,
    p.nodePath ? report('configured', remotePath(p.nodePath)) : 'true',
    report('recorded', '$n'),
    report('path', '$(command -v node 2>/dev/null)'),
    `${login('', '')}; ${report('login', '"$o"')}`,
    ...moduleCandidates.map(
      (m, i) => `${login('module load "$1" >/dev/null 2>&1; ', 'module load "$argv[1]" >/dev/null; ', shQuote(m))}; ${report(`module${i}`, '"$o"')}`,
    ),
    // Runtimes uploaded by an earlier install (content-addressed), so a new build does not upload again.
    `for c in "$r"/node/*/bin/node; do if [ -x "$c" ]; then printf 'node.uploaded=%s\\t%s\\n' "$c" "$("$c" --version 2>/dev/null </dev/null)"; fi; done`,
    `printf '%s\\n' ${MARK.end}`,
  ];
  return parts.join('; ');
}

/**
 * Verify an uploaded bundle by running it (`agent.mjs version` hashes its own
 * file), then rename it into place and record the node used. Atomic: readers
 * see the old state or the complete new file, never a partial one.
 */
export function installScript(p: AgentPlace & { tmp: string; node: string }): string {
  return (
    `${setPlace(p)}; n=${shQuote(p.node)}; t="$b"/${shQuote(p.tmp)}; v=$("$n" "$t" version 2>&1); ` +
    `case "$v" in *'"build":"'${p.build}'"'*) mv -f "$t" "$a" && printf '%s\\n' "$n" > "$b/node-path.$$" && mv -f "$b/node-path.$$" "$b/node-path" && echo ${MARK.installed};; ` +
    `*) rm -f "$t"; printf '%s %s\\n' ${MARK.badHash} "$v";; esac`
  );
}

/** Make a directory (absolute path, from the probe) for an uploaded runtime. */
export function mkdirScript(dir: string): string {
  return `(umask 022; mkdir -p ${shQuote(dir)}) && echo ${MARK.installed}`;
}

/** Check an uploaded node binary runs (prints `vNN…`), then rename it into place. */
export function placeNodeScript(tmp: string, final: string): string {
  return (
    `v=$(${shQuote(tmp)} --version 2>&1 </dev/null); case "$v" in v[0-9]*) mv -f ${shQuote(tmp)} ${shQuote(final)} && printf '%s %s\\n' ${MARK.installed} "$v";; ` +
    `*) rm -f ${shQuote(tmp)}; printf '%s %s\\n' ${MARK.badHash} "$v";; esac`
  );
}
