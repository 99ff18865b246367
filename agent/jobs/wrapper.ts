/**
 * The job wrapper: a POSIX sh script, generated per job (per chunk of a split
 * array), that the scheduler runs on the compute node as the user. It
 *
 *   - works out its array task index (scheduler env var + chunk offset),
 *   - records its start in <jobDir>/tasks/<task>.start,
 *   - redirects the command's stdout/stderr to the job's files,
 *   - sets CLUSTRIX_EVENTS (progress lines) and CLUSTRIX_SCRATCH (node-local scratch, removed at the end),
 *   - exports env, loads modules, sources a dependency environment, changes to the workdir,
 *   - runs the command (argv, each word single-quoted) or the script file,
 *   - records exit status and signal in <jobDir>/tasks/<task>.exit,
 *
 * so the outcome is known even when the scheduler has forgotten the job
 * (no sacct, MinJobAge passed, SGE without accounting). Every user-supplied
 * string enters the script only inside single quotes, where sh interprets
 * nothing: `'` is written as `'\''`. The job dir must be on the shared root:
 * the compute node writes these files.
 */
import type { NormalizedJobSpec } from '../../protocol/index.js';

/** Single-quote for POSIX sh: inert whatever the bytes (quotes, $(), backticks, newlines). */
export function sq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Where each scheduler puts the array task index of a running task. */
export const TASK_ENV: Record<string, string> = {
  slurm: 'SLURM_ARRAY_TASK_ID',
  sge: 'SGE_TASK_ID',
  pbs: 'PBS_ARRAY_INDEX',
  lsf: 'LSB_JOBINDEX',
  local: 'CLUSTRIX_LOCAL_TASK',
};

/** Name of the per-task files: the array index, or "job" for a plain job. */
export function taskKey(index: number | undefined): string {
  return index === undefined ? 'job' : String(index);
}

/**
 * A path template → sh words that build it at run time: `{task}` becomes
 * "$CLX_TASK", everything else single-quoted. (`{job}` and `{name}` were
 * expanded by the agent already.)
 */
export function templateToSh(template: string): string {
  const parts = template.split('{task}');
  return parts.map((p, i) => (p === '' ? '' : sq(p)) + (i < parts.length - 1 ? '"$CLX_TASK"' : '')).join('') || "''";
}

export interface WrapperOptions {
  scheduler: string;
  jobId: string;
  jobDir: string;
  spec: NormalizedJobSpec;
  /** Added to the scheduler's task index to get the clustrix index (split arrays). */
  offset: number;
  /** Instead of an offset: line (native − base + 1) of this file is the clustrix index. */
  table?: { file: string; base: number };
}

export function wrapperScript(o: WrapperOptions): string {
  const { spec } = o;
  const isArray = spec.array !== undefined;
  const L: string[] = [];
  L.push('#!/bin/sh');
  L.push(`# clustrix job wrapper for job ${o.jobId} (generated, do not edit).`);
  L.push(`CLX_DIR=${sq(o.jobDir)}`);
  L.push(`CLUSTRIX_JOB_ID=${sq(o.jobId)}; export CLUSTRIX_JOB_ID`);
  L.push('CLUSTRIX_JOB_DIR=$CLX_DIR; export CLUSTRIX_JOB_DIR');
  if (isArray) {
    const v = TASK_ENV[o.scheduler] ?? 'CLUSTRIX_LOCAL_TASK';
    L.push(`CLX_NATIVE_TASK="\${${v}:-}"`);
    L.push('case $CLX_NATIVE_TASK in');
    L.push(`  ''|*[!0-9]*) echo "clustrix: no array task index in \\$${v} ($CLX_NATIVE_TASK)" >&2; exit 1 ;;`);
    L.push('esac');
    if (o.table) {
      L.push(`CLX_TASK=$(sed -n "$((CLX_NATIVE_TASK - ${o.table.base} + 1))p" ${sq(o.table.file)})`);
      L.push('case $CLX_TASK in \'\'|*[!0-9]*) echo "clustrix: no index for task $CLX_NATIVE_TASK" >&2; exit 1 ;; esac');
    } else L.push(`CLX_TASK=$((CLX_NATIVE_TASK + ${o.offset}))`);
    L.push('CLX_KEY=$CLX_TASK');
    L.push('CLUSTRIX_TASK_ID=$CLX_TASK; export CLUSTRIX_TASK_ID');
  } else {
    L.push('CLX_TASK=');
    L.push('CLX_KEY=job');
  }
  L.push(
    // Milliseconds since the epoch where date supports %N (GNU), else seconds * 1000.
    'clx_now() { t=$(date +%s%N 2>/dev/null); case $t in *[!0-9]*|"") echo "$(date +%s)000" ;; *) echo $((t / 1000000)) ;; esac; }',
    // Atomic on every filesystem the root may be on: write a temp file, rename it.
    'clx_put() { printf \'%s\\n\' "$2" > "$1.tmp.$$" && mv -f "$1.tmp.$$" "$1"; }',
    "clx_host=$(uname -n 2>/dev/null | tr -cd 'A-Za-z0-9._-')",
    // Node-local scratch made for this task is removed before the exit is recorded (only what we made).
    "clx_scratch=''",
    'clx_exit() { if [ -n "$clx_scratch" ]; then rm -rf "$clx_scratch"; fi; clx_put "$CLX_DIR/tasks/$CLX_KEY.exit" "{\\"exitCode\\":$1,\\"signal\\":\\"$2\\",\\"endedAt\\":$(clx_now),\\"host\\":\\"$clx_host\\",\\"error\\":\\"$3\\"}"; exit "$1"; }',
    'clx_put "$CLX_DIR/tasks/$CLX_KEY.start" "{\\"startedAt\\":$(clx_now),\\"host\\":\\"$clx_host\\",\\"pid\\":$$}"',
  );
  const out = templateToSh(spec.stdout);
  const err = templateToSh(spec.stderr);
  L.push(`CLX_OUT=${out}`);
  L.push(`CLX_ERR=${err}`);
  L.push('if ! ( : >"$CLX_OUT" ) 2>/dev/null; then echo "clustrix: cannot write stdout file $CLX_OUT" >&2; clx_exit 1 "" "cannot write stdout file"; fi');
  if (spec.stdout === spec.stderr) {
    L.push('exec >"$CLX_OUT" 2>&1');
  } else {
    L.push('if ! ( : >"$CLX_ERR" ) 2>/dev/null; then echo "clustrix: cannot write stderr file $CLX_ERR" >&2; clx_exit 1 "" "cannot write stderr file"; fi');
    L.push('exec >"$CLX_OUT" 2>"$CLX_ERR"');
  }
  // Progress events: any program appends JSON lines here; the agent streams them (jobs.progress).
  L.push('CLUSTRIX_EVENTS="$CLX_DIR/tasks/$CLX_KEY.events"; export CLUSTRIX_EVENTS');
  // Node-local scratch: the scheduler's $TMPDIR when set, else the usual site places.
  L.push(
    'for clx_d in "${TMPDIR:-}" /local /scratch/local /lscratch /localscratch /tmp; do',
    '  if [ -n "$clx_d" ] && [ -d "$clx_d" ] && [ -w "$clx_d" ]; then',
    '    clx_scratch=$(mktemp -d "$clx_d/clustrix-$CLUSTRIX_JOB_ID-$CLX_KEY-XXXXXX" 2>/dev/null) && break',
    "    clx_scratch=''",
    '  fi',
    'done',
    'if [ -z "$clx_scratch" ]; then echo "clustrix: no writable node-local scratch directory; CLUSTRIX_SCRATCH is not set" >&2; fi',
    'CLUSTRIX_SCRATCH=$clx_scratch; export CLUSTRIX_SCRATCH',
  );
  for (const [k, v] of Object.entries(spec.env)) L.push(`${k}=${sq(v)}; export ${k}`);
  if (spec.modules.length > 0) {
    // Batch shells are not login shells: make `module` available the way sites install it.
    L.push('if ! command -v module >/dev/null 2>&1; then');
    L.push('  for f in /etc/profile.d/lmod.sh /etc/profile.d/modules.sh /usr/share/lmod/lmod/init/sh /usr/share/Modules/init/sh; do');
    L.push('    if [ -r "$f" ]; then . "$f"; break; fi');
    L.push('  done');
    L.push('fi');
    for (const m of spec.modules) {
      L.push(`module load ${sq(m)} || { echo ${sq(`clustrix: module load ${m} failed`)} >&2; clx_exit 127 "" ${sq(`module load ${m} failed`)}; }`);
    }
  }
  if (spec.environment) {
    const act = `${spec.environment}/activate`;
    L.push(`. ${sq(act)} || { echo ${sq(`clustrix: sourcing ${act} failed`)} >&2; clx_exit 127 "" "environment activation failed"; }`);
  }
  L.push(`cd ${sq(spec.workdir)} || { echo ${sq(`clustrix: cannot cd to ${spec.workdir}`)} >&2; clx_exit 1 "" "cannot cd to workdir"; }`);
  // A trapped TERM (scancel, time limit warning) lets the wrapper record the outcome
  // once the command, which got the same signal from the scheduler, has ended.
  L.push("clx_sig=''");
  for (const s of ['TERM', 'INT', 'HUP', 'USR1', 'USR2', 'XCPU']) L.push(`trap 'clx_sig=SIG${s}' ${s} 2>/dev/null`);
  if (spec.command) {
    L.push(spec.command.map(sq).join(' ') + ' </dev/null');
  } else {
    L.push('if [ "$(head -c 2 "$CLX_DIR/script")" = "#!" ]; then "$CLX_DIR/script" </dev/null');
    L.push('elif [ -x /bin/bash ]; then /bin/bash "$CLX_DIR/script" </dev/null');
    L.push('else /bin/sh "$CLX_DIR/script" </dev/null; fi');
  }
  L.push('clx_rc=$?');
  L.push('if [ "$clx_rc" -gt 128 ] && [ "$clx_rc" -lt 193 ]; then clx_s=$(kill -l $((clx_rc - 128)) 2>/dev/null); clx_sig=SIG${clx_s#SIG}; fi');
  L.push('clx_exit "$clx_rc" "$clx_sig" ""');
  return L.join('\n') + '\n';
}
