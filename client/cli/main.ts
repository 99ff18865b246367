/**
 * The `clustrix` command line. Every command takes --json; exit codes are
 * listed in exit.ts and the README.
 */
import { Command, CommanderError } from 'commander';
import { registerAgentCommands } from './agent-commands.js';
import { registerDemoCommand } from './demo.js';
import { registerDoctorCommand } from './doctor-command.js';
import { registerInstallCommand } from './install-command.js';
import { installTtyPrompts } from './prompts.js';
import { EXIT, UsageError } from './exit.js';
import { registerFsCommands } from './fs-commands.js';
import { registerFunctionCommands } from './functions-commands.js';
import { gnuFindArgs } from './gnu-find-args.js';
import { registerJobsCommands } from './jobs-commands.js';
import { registerMuxCommands } from './mux-commands.js';
import { registerStorageCommands } from './storage-commands.js';
import type { GlobalOptions } from './session.js';
import { versionText } from './version.js';

// `clustrix find … | head` closes the pipe early: that is success, not a crash.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(EXIT.OK);
  throw err;
});

const program = new Command();
program
  .name('clustrix')
  .description(
    'Make an HPC cluster feel local: fast filesystem queries, jobs and functions through one agent.\nTargets are host:path (an ssh alias or user@host), local:path, or a plain local path.',
  )
  .option('--json', 'machine-readable output (JSON; find prints JSON lines)')
  .option('--root <dir>', 'clustrix root on the target (default ~/.clustrix)')
  .option('--run-dir <dir>', 'agent run dir for socket/lock/token (default $XDG_RUNTIME_DIR/clustrix or /tmp/clustrix-$UID)')
  .option('-V, --version', 'print the version, the protocol and the agent build this CLI installs')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

// Like commander's .version(), but the text (it hashes the agent bundle) is made only when asked for.
program.on('option:version', () => {
  process.stdout.write(`${versionText()}\n`);
  process.exit(EXIT.OK);
});

const globals = (): GlobalOptions => program.opts<GlobalOptions>();
registerFsCommands(program, globals);
registerJobsCommands(program, globals);
registerFunctionCommands(program, globals);
registerStorageCommands(program, globals);
registerAgentCommands(program, globals);
registerDemoCommand(program, globals);
registerInstallCommand(program, globals);
registerDoctorCommand(program, globals);
registerMuxCommands(program, globals);
installTtyPrompts();

// No top-level await: dist/cli.mjs runs this bundle as CommonJS, through V8's code cache (launch.ts).
async function main(): Promise<void> {
  try {
    // `find -name '*.gz'` as typed from GNU habit: rewritten to --name, or refused with a hint.
    await program.parseAsync(gnuFindArgs(process.argv));
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    } else if (err instanceof UsageError) {
      process.stderr.write(`clustrix: ${err.message}\n`);
      process.exitCode = EXIT.USAGE;
    } else {
      process.stderr.write(`clustrix: ${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = EXIT.FAILED;
    }
  }
}

void main();
