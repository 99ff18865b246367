/** The built CLI run as a user would, against a test's local agent environment. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { LocalEnv } from './local-agent.js';

/** dist/cli.mjs (the test run builds it first). */
export const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli.mjs');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `clustrix --root … --run-dir … <args>` with `input` on stdin (empty if none); its exit code and output. */
export function runCli(env: LocalEnv, args: string[], input = ''): Promise<CliResult> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, '--root', env.root, '--run-dir', env.runDir, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.stdin.end(input);
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
