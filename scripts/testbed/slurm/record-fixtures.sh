#!/bin/bash
# Re-record test/fixtures/slurm/ from the running testbed (run as root after
# `node scripts/testbed/index.mjs up slurm`). Every fixture is the verbatim
# stdout (or, for *-error files, stderr) of one command run as the test user.
# Takes ~2 minutes (one job must hit its 1-minute time limit).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
STATE=${CLUSTRIX_TESTBED_DIR:-$ROOT/.testbed}/state.json
OUT=$ROOT/test/fixtures/slurm
mkdir -p "$OUT"
conf=$(node -e 'const s=require(process.argv[1]).slurm; if(!s||s.skipped) process.exit(1); console.log(s.env.SLURM_CONF)' "$STATE")
jobs=$(node -e 'console.log(require(process.argv[1]).slurm.jobsDir)' "$STATE")
user=$(node -e 'console.log(require(process.argv[1]).slurm.user)' "$STATE")

# as USER CMD ARGS... : run as the test user in its jobs dir, argv (no shell).
as() { (cd "$jobs" && runuser -u "$user" -- env -i PATH=/usr/bin:/bin HOME="$jobs" USER="$user" SLURM_CONF="$conf" "$@"); }
save() { local f=$1; shift; as "$@" > "$OUT/$f" || true; }
save_err() { local f=$1; shift; as "$@" > /dev/null 2> "$OUT/$f" || true; }
state_of() { as scontrol show job -o "$1" | grep -o 'JobState=[A-Z_]*' | head -1 | cut -d= -f2; }
wait_done() { for _ in $(seq 1 ${2:-300}); do case $(state_of "$1") in PENDING|RUNNING|COMPLETING|CONFIGURING|'') sleep 0.5;; *) return 0;; esac; done; echo "timeout waiting for $1" >&2; return 1; }

# A job that will hit its time limit (runs in the background of everything else).
t=$(as sbatch --parsable -t 1 -J timeout --wrap 'echo started; sleep 300')
# A job that exceeds its memory.
m=$(as sbatch --parsable --mem=50M -t 2 -J oom --wrap "bash -c 'x=0123456789abcdef; while :; do x=\"\$x\$x\"; done'")
wait_done "$m"
save scontrol-show-job-oom.txt scontrol show job "$m"

# The array from the brief: submit, show while queued, show when done.
as sbatch --parsable -c 1 --mem=100M -t 5 -p long --array=0-3 --wrap 'echo x' > "$OUT/sbatch-parsable-array.txt"
a=$(cat "$OUT/sbatch-parsable-array.txt")
save scontrol-show-job-array-submitted.txt scontrol show job "$a"
for i in 0 1 2 3; do wait_done "${a}_$i"; done
save scontrol-show-job-array-done.txt scontrol show job "$a"
save scontrol-show-job-array-task.txt scontrol show job "${a}_2"

# Exit code 3.
e=$(as sbatch --parsable -J exit3 --wrap 'echo going to fail; echo oops >&2; exit 3')
wait_done "$e"
save scontrol-show-job-exit3.txt scontrol show job "$e"
save scontrol-show-job-exit3-oneline.txt scontrol show job -o "$e"

# Fill the node (the timeout job holds one CPU), then queue more: running + pending.
r=$(as sbatch --parsable -c 1 -t 10 -J sleeper --wrap 'sleep 600')
sleep 2
p=$(as sbatch --parsable -c 1 -t 10 -J waiting --wrap 'sleep 600')
pa=$(as sbatch --parsable -c 1 -t 10 -J waitarr --array=0-2 --wrap 'sleep 600')
sleep 2
save scontrol-show-job-running.txt scontrol show job "$r"
save scontrol-show-job-pending.txt scontrol show job "$p"
save scontrol-show-job-pending-array.txt scontrol show job "$pa"
save squeue-json.json squeue --json
save squeue-json-user.json squeue --json -u "$user"
save squeue-format-all-states.txt squeue -h -t all -o '%i|%A|%K|%F|%j|%T|%r|%P|%C|%m|%l|%M|%S|%e' -u "$user"
save squeue-format.txt squeue -h -o '%i|%A|%K|%F|%j|%T|%r|%P|%C|%m|%l|%M|%S|%e' -u "$user"
save sinfo-json.json sinfo --json

# scancel of a pending job and of one pending array task (silent on success).
as scancel "$p" > "$OUT/scancel-pending.txt" 2>&1 || true
as scancel "${pa}_1" > "$OUT/scancel-pending-array-task.txt" 2>&1 || true
sleep 1
save scontrol-show-job-cancelled.txt scontrol show job "$p"
save scontrol-show-job-pending-array-after-scancel.txt scontrol show job "$pa"

# Errors (stderr).
save_err scontrol-show-job-json-error.txt scontrol show job --json "$r"
save_err scontrol-show-job-invalid-error.txt scontrol show job 999999
save_err scancel-invalid-error.txt scancel 999999
save_err scancel-verbose-invalid-error.txt scancel -v 999999
save_err scancel-finished-error.txt scancel "$e"
save_err sbatch-invalid-partition-error.txt sbatch --parsable -p nosuch --wrap 'echo x'
save_err sbatch-array-too-big-error.txt sbatch --parsable --array=0-5000 --wrap 'echo x'
save_err sbatch-too-much-mem-error.txt sbatch --parsable --mem=1000G --wrap 'echo x'
save_err sacct-error.txt sacct -j "$e"

wait_done "$t" 400
save scontrol-show-job-timeout.txt scontrol show job "$t"
cp "$jobs/slurm-$t.out" "$OUT/job-output-timeout.txt"
cp "$jobs/slurm-$m.out" "$OUT/job-output-oom.txt"
cp "$jobs/slurm-$e.out" "$OUT/job-output-exit3.txt"
as scancel "$r" "$pa" || true
echo "recorded $(ls "$OUT" | wc -l) files in $OUT"
