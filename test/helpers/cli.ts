/** Running the built CLI (bin/multitask.js → dist/) in a child process, and checking its usage errors. */
import { execFile } from 'node:child_process';
import { expect } from 'vitest';

export interface CliRun { code: number; stdout: string; stderr: string }

const bin = new URL('../../bin/multitask.js', import.meta.url).pathname;

/** `multitask <args>` in `cwd`, `env` added to this process's environment. */
export function runCli(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; nodeArgs?: string[] } = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...(options.nodeArgs ?? []), bin, ...args], { timeout: 120_000, cwd: options.cwd, env: { ...process.env, ...options.env } }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/** Exit code 2, the last stderr line matching `pattern` (a kernel-fallback notice may come before it), no stack trace. */
export function expectUserError(run: CliRun, pattern: RegExp): void {
  expect(run.code, run.stdout + run.stderr).toBe(2);
  const lines = run.stderr.trim().split('\n');
  expect(lines.at(-1)).toMatch(pattern);
  expect(run.stderr).not.toMatch(/\n\s+at /);
}

/** The penguins CSV fixture of the CLI tests. */
export const penguinsFixture = new URL('../cli/fixtures/penguins.csv', import.meta.url).pathname;

/** A config's data and tasks on the penguins fixture: two classifications and a regression. */
export const penguinsTasks = {
  data: { path: penguinsFixture, features: ['Island', 'Beak Length (mm)', 'Beak Depth (mm)', 'Flipper Length (mm)'] },
  tasks: [
    { name: 'species', column: 'Species', loss: 'cross_entropy' },
    { name: 'sex', column: 'Sex', loss: 'bce_with_logits' },
    { name: 'mass', column: 'Body Mass (g)', loss: 'mse' },
  ],
};
