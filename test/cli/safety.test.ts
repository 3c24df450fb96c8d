/*
 * The CLI on what the user or the system gets wrong (issue 13): OS errors as one
 * line naming the path, sizes refused before allocating, --max-skips.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const bin = new URL('../../bin/multitask.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'multitask-safety-'));
const runs = join(dir, 'runs');

interface Run { code: number; stdout: string; stderr: string }

function cli(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { timeout: 120_000, cwd: dir }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/** Exit `code`, the last stderr line matching `pattern`, and no stack trace. */
function expectOneLine(run: Run, code: number, pattern: RegExp): void {
  expect(run.code, run.stdout + run.stderr).toBe(code);
  expect(run.stderr.trim().split('\n').at(-1)).toMatch(pattern);
  expect(run.stderr).not.toMatch(/\n\s+at /);
  expect(run.stderr).not.toContain('internal error');
}

describe('--on-nonfinite skip gives up', () => {
  it('stops after --max-skips steps skipped in a row, exit 1, the message of stop', async () => {
    const run = await cli(['train', '--lr', '1e30', '--on-nonfinite', 'skip', '--max-skips', '3', '--epochs', '5', '--workers', '1', '--runs-dir', runs]);
    expectOneLine(run, 1, /^multitask: task \w+, step \d+: the loss is NaN; 3 steps in a row were skipped already \(--max-skips 3\)$/);
    expect(run.stderr.match(/skipped step/g)).toHaveLength(3);
  }, 60_000);

  it('--max-skips needs a non-negative integer', async () => {
    expectOneLine(await cli(['train', '--max-skips', '-1']), 2, /^multitask: .*--max-skips/);
  });
});
