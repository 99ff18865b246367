#!/usr/bin/env node
// The project's testbed: real OpenSSH sshd, real Slurm and real Grid Engine on
// loopback, hermetic (own ports, state under .testbed/), idempotent.
//
//   node scripts/testbed/index.mjs up [sshd,slurm,sge]   bring components up (default: all)
//   node scripts/testbed/index.mjs down                  stop everything we started (by pid)
//   node scripts/testbed/index.mjs status                print state.json
//
// Each component module exports:
//   name: string
//   up(): Promise<object>    state to record; { skipped: "reason" } when it cannot run here
//   down(state): Promise<void>
//   healthy(state): Promise<boolean>   is a recorded instance still usable (for idempotent up)
import { log, readState, writeComponentState, STATE_FILE } from './common.mjs';

const COMPONENTS = ['sshd', 'slurm', 'sge'];

async function load(name) {
  return import(`./${name}.mjs`);
}

async function up(names) {
  let failed = false;
  for (const name of names) {
    const mod = await load(name);
    const prev = readState()[name];
    if (prev && !prev.skipped && (await mod.healthy(prev).catch(() => false))) {
      log(name, 'already up');
      continue;
    }
    if (prev && !prev.skipped) await mod.down(prev).catch(() => {});
    const started = Date.now();
    try {
      const state = await mod.up();
      writeComponentState(name, state);
      if (state.skipped) log(name, `skipped: ${state.skipped}`);
      else log(name, `up in ${Date.now() - started} ms`);
    } catch (err) {
      failed = true;
      writeComponentState(name, { skipped: `failed to start: ${err.message}` });
      log(name, `FAILED: ${err.stack ?? err}`);
    }
  }
  return failed ? 1 : 0;
}

async function down(names) {
  const state = readState();
  for (const name of names) {
    if (!state[name] || state[name].skipped) {
      writeComponentState(name, undefined);
      continue;
    }
    const mod = await load(name);
    await mod.down(state[name]).catch((err) => log(name, `down failed: ${err.message}`));
    writeComponentState(name, undefined);
    log(name, 'down');
  }
  return 0;
}

const [cmd = 'status', list] = process.argv.slice(2);
const names = list ? list.split(',').filter(Boolean) : COMPONENTS;
for (const n of names) {
  if (!COMPONENTS.includes(n)) {
    process.stderr.write(`unknown testbed component "${n}" (known: ${COMPONENTS.join(', ')})\n`);
    process.exit(2);
  }
}
if (cmd === 'up') process.exitCode = await up(names);
else if (cmd === 'down') process.exitCode = await down(names);
else if (cmd === 'status') process.stdout.write(JSON.stringify(readState(), null, 2) + '\n');
else {
  process.stderr.write(`usage: index.mjs up|down|status [components]   (state: ${STATE_FILE})\n`);
  process.exitCode = 2;
}
