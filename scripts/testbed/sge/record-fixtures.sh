#!/bin/bash
# Re-record test/fixtures/sge/ from the running testbed (run as root after
# `node scripts/testbed/index.mjs up sge`). Every fixture is the verbatim
# stdout (or, for *-error files, stderr) of one command run as the test user.
# Takes ~30 s.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
STATE=${CLUSTRIX_TESTBED_DIR:-$ROOT/.testbed}/state.json
OUT=$ROOT/test/fixtures/sge
mkdir -p "$OUT"
get() { node -e 'const s=require(process.argv[1]).sge; if(!s||s.skipped) process.exit(1); const v=process.argv[2].split(".").reduce((o,k)=>o[k],s); console.log(v)' "$STATE" "$1"; }
jobs=$(get jobsDir); user=$(get user); path=$(get path)
envv=(SGE_ROOT="$(get env.SGE_ROOT)" SGE_CELL="$(get env.SGE_CELL)" SGE_QMASTER_PORT="$(get env.SGE_QMASTER_PORT)" SGE_EXECD_PORT="$(get env.SGE_EXECD_PORT)")

as() { (cd "$jobs" && runuser -u "$user" -- env -i PATH="$path:/usr/bin:/bin" HOME="$jobs" USER="$user" LOGNAME="$user" "${envv[@]}" "$@"); }
save() { local f=$1; shift; as "$@" > "$OUT/$f" || true; }
save_err() { local f=$1; shift; as "$@" > /dev/null 2> "$OUT/$f" || true; }
# accounted ID: wait until qacct knows the job (accounting_flush_time is 0)
accounted() { for _ in $(seq 1 300); do as qacct -j "$1" >/dev/null 2>&1 && return 0; sleep 0.2; done; echo "timeout waiting for $1" >&2; return 1; }
idle() { for _ in $(seq 1 300); do [ -z "$(as qstat -u "$user" -s rs)" ] && return 0; sleep 0.2; done; return 1; }

cat > "$jobs/exit3.sh" <<'S'
#!/bin/sh
echo going to fail
echo oops >&2
exit 3
S
cat > "$jobs/hog.sh" <<'S'
#!/bin/bash
ulimit -c 0
x=0123456789abcdef; while :; do x="$x$x"; done
S
chmod 755 "$jobs/exit3.sh" "$jobs/hog.sh"; chown "$user" "$jobs/exit3.sh" "$jobs/hog.sh"

save qstat-xml-empty.xml qstat -xml -u "$user"

# qsub -terse: plain job and array.
as qsub -terse -cwd -b y -N plain /bin/echo hi > "$OUT/qsub-terse.txt"
j=$(cat "$OUT/qsub-terse.txt")
as qsub -terse -cwd -t 1-3 -b y -N arr /bin/echo hi > "$OUT/qsub-terse-array.txt"
a=$(cut -d. -f1 "$OUT/qsub-terse-array.txt")
save qsub-plain.txt qsub -cwd -b y -N plain2 /bin/echo hi
save qsub-plain-array.txt qsub -cwd -t 1-2 -b y -N arr2 /bin/echo hi
accounted "$j"
idle
save qacct-j-plain.txt qacct -j "$j"
save qacct-j-array.txt qacct -j "$a"

# Exit code 3, time limit, memory limit.
e=$(as qsub -terse -cwd -N exit3 exit3.sh)
m=$(as qsub -terse -cwd -N hog -l h_vmem=100M hog.sh)
t=$(as qsub -terse -cwd -N rt -q long.q -l h_rt=0:0:3 -b y sleep 60)
accounted "$e"; accounted "$m"; accounted "$t"
save qacct-j-exit3.txt qacct -j "$e"
save qacct-j-h_vmem.txt qacct -j "$m"
save qacct-j-h_rt.txt qacct -j "$t"
cp "$jobs/exit3.o$e" "$OUT/job-output-exit3.o.txt"; cp "$jobs/exit3.e$e" "$OUT/job-output-exit3.e.txt"
save qstat-xml-finished.xml qstat -xml -u "$user" -s z

# Running + pending (qw), held (hqw), array pending, error (Eqw).
r1=$(as qsub -terse -cwd -N run1 -l h_rt=0:10:0 -b y sleep 600)
r2=$(as qsub -terse -cwd -N run2 -q long.q -b y sleep 600)
sleep 3
p=$(as qsub -terse -cwd -N pend -b y sleep 600)
h=$(as qsub -terse -cwd -N held -h -b y sleep 600)
pa=$(as qsub -terse -cwd -N parr -t 1-4 -b y sleep 600 | cut -d. -f1)
sleep 2
save qstat-xml-running-pending.xml qstat -xml -u "$user"
save qstat-plain.txt qstat -u "$user"
save qstat-j-running.txt qstat -j "$r1"
save qstat-j-running.xml qstat -xml -j "$r1"
save qstat-j-pending-array.txt qstat -j "$pa"
save_err qstat-j-unknown-error.txt qstat -j 999999
save qstat-j-unknown.xml qstat -xml -j 999999

# qdel: pending job, one pending array task, running job, unknown job, someone else's job.
save qdel-pending.txt qdel "$p"
save qdel-array-task.txt qdel "$pa" -t 2
save qdel-running.txt qdel "$r2"
save_err qdel-unknown-error.txt qdel 999999
save qdel-unknown.txt qdel 999999
save qdel-held.txt qdel "$h"

# Array tasks running (task 2 was deleted above): free the slots, let tasks start.
as qdel "$r1" > /dev/null || true
for _ in $(seq 1 50); do [ "$(as qstat -u "$user" -s r | grep -c parr)" -ge 2 ] && break; sleep 0.2; done
save qstat-xml-array-running.xml qstat -xml -u "$user"
save qstat-plain-array-running.txt qstat -u "$user"

# Error state: output path the user cannot write -> Eqw.
as qdel "$pa" > /dev/null || true
idle
eq=$(as qsub -terse -o /root/nope.out -N eqw -b y /bin/true)
for _ in $(seq 1 50); do as qstat -u "$user" | grep -q Eqw && break; sleep 0.2; done
save qstat-xml-eqw.xml qstat -xml -u "$user"
save qstat-j-eqw.txt qstat -j "$eq"
as qdel "$eq" > /dev/null || true

# Submit errors.
save_err qsub-name-with-space-error.txt qsub -terse -b y "/bin/echo a b"
save_err qsub-invalid-queue-error.txt qsub -terse -q nosuch.q -b y /bin/true
save_err qacct-j-unknown-error.txt qacct -j 999999
echo "recorded $(ls "$OUT" | wc -l) files in $OUT"
