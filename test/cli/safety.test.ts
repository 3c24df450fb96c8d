/*
 * The CLI on what the user or the system gets wrong (issue 13): OS errors as one
 * line naming the path, sizes refused before allocating, --max-skips.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mountTmpfs } from '../helpers/tmpfs.js';

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

describe('OS errors are one line naming the path', () => {
  const notAFile = join(dir, 'a-directory');
  const run = join(runs, 'done');
  beforeAll(async () => {
    mkdirSync(notAFile, { recursive: true });
    const r = await cli(['train', '--epochs', '1', '--workers', '1', '--runs-dir', runs, '--name', 'done', '--no-report']);
    expect(r.code, r.stderr).toBe(0);
  }, 60_000);

  it('--data a directory: exit 2', async () => {
    expectOneLine(await cli(['train', '--data', notAFile, '--task', 'a:mse', '--runs-dir', runs]), 2,
      new RegExp(`^multitask: ${notAFile}: cannot read: is a directory, expected a file$`));
  });

  it('init a directory: exit 2', async () => {
    expectOneLine(await cli(['init', notAFile, '--out', join(dir, 'run.json')]), 2,
      new RegExp(`^multitask: ${notAFile}: cannot read: is a directory, expected a file$`));
  });

  it('export --out a directory: exit 2', async () => {
    expectOneLine(await cli(['export', run, '--out', notAFile]), 2,
      new RegExp(`^multitask: --out ${notAFile}: is a directory; give a file path$`));
  });

  it('report --out a directory: exit 2, no temporary file left', async () => {
    expectOneLine(await cli(['report', run, '--out', notAFile]), 2,
      new RegExp(`^multitask: --out ${notAFile}: is a directory; give a file path$`));
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('a checkpoint that is a directory: exit 2 naming it', async () => {
    const r = await cli(['train', '--epochs', '1', '--workers', '1', '--runs-dir', runs, '--name', 'ckdir', '--no-report']);
    expect(r.code, r.stderr).toBe(0);
    const checkpoints = join(runs, 'ckdir', 'checkpoints');
    rmSync(checkpoints, { recursive: true });
    mkdirSync(join(checkpoints, 'step-000000009.ckpt'), { recursive: true });
    const resumed = await cli(['train', '--resume', join(runs, 'ckdir'), '--workers', '1']);
    expectOneLine(resumed, 2, /is a directory, expected a file/);
    // resume tries each checkpoint and names the one that is not a file
    expect(resumed.stderr).toContain(`${checkpoints}: no checkpoint loads: step-000000009.ckpt (cannot read: is a directory, expected a file)`);
  }, 60_000);

  it('--runs-dir under a file: exit 2', async () => {
    const file = join(run, 'config.json');
    expectOneLine(await cli(['train', '--epochs', '1', '--runs-dir', file, '--name', 'x']), 2,
      new RegExp(`^multitask: ${file}(/x/checkpoints)?: cannot create the directory: a part of the path is a file, not a directory$`));
  });

  it('a name too long (a real one): exit 2, the path shortened', async () => {
    expectOneLine(await cli(['train', '--epochs', '1', '--runs-dir', join(dir, 'r'.repeat(300))]), 2,
      /^multitask: \/.*r…r+(\/[^/]+\/checkpoints)? \(\d+ characters\): cannot create the directory: name too long/);
  });

  const fs = mountTmpfs('64k');
  afterAll(() => fs?.unmount());

  it.skipIf(!fs)('disk full (a 64 KiB tmpfs): exit 1 naming the file; no temporary file left', async () => {
    const r = await cli(['train', '--epochs', '1', '--workers', '1', '--runs-dir', fs!.dir, '--name', 'full']);
    expectOneLine(r, 1, new RegExp(`^multitask: ${fs!.dir}/full/.*: cannot write: no space left on the device \\(disk full\\)$`));
    expect(readdirSync(join(fs!.dir, 'full', 'checkpoints')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  }, 60_000);

  it.skipIf(!fs)('a read-only runs dir: exit 1, read-only (not "no such file")', async () => {
    fs!.remountReadOnly();
    const r = await cli(['train', '--epochs', '1', '--workers', '1', '--runs-dir', join(fs!.dir, 'runs'), '--name', 'ro']);
    expectOneLine(r, 1, new RegExp(`^multitask: ${fs!.dir}/runs(/ro\\S*)?: (cannot [a-z ]+: )?the file system is read-only( \\(at ${fs!.dir}\\))?$`));
    expect(existsSync(join(fs!.dir, 'runs'))).toBe(false);
  }, 60_000);
});

describe('sizes checked before allocating', () => {
  it('--trunk 1000000,1000000: exit 2 at once, saying how much memory it needs', async () => {
    const started = Date.now();
    expectOneLine(await cli(['train', '--trunk', '1000000,1000000', '--runs-dir', runs]), 2,
      /^multitask: model \(inputs \d+, trunk 1000000,1000000, 3 tasks\): needs about [\d.]+ TiB of memory \(.*\), more than this machine's [\d.]+ GiB; make it smaller$/);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('--workers 100000: capped at 4 × the cores, with a notice', async () => {
    const r = await cli(['train', '--workers', '100000', '--epochs', '1', '--runs-dir', runs, '--no-report']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/multitask: workers: 100000 is more than 4 × the \d+ cores; using \d+\n/);
  }, 60_000);
});
