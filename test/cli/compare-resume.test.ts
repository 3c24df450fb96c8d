/** `compare --resume`: a comparison stopped part-way finishes with the same runs as one never stopped. */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const bin = new URL('../../bin/multitask.js', import.meta.url).pathname;
const root = mkdtempSync(join(tmpdir(), 'multitask-compare-resume-'));

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

const COMPARE = ['compare', '--strategies', 'sum,pcgrad,sequential:stale', '--epochs', '2', '--workers', '1', '--runs-dir', root, '--no-report'];

describe('compare --resume', () => {
  it('keeps the finished runs, resumes the stopped one, runs the rest; same weights as the comparison never stopped', async () => {
    const whole = await cli(...COMPARE, '--name', 'whole');
    expect(whole.code, whole.stderr).toBe(0);
    const dir = join(root, 'cut');
    cpSync(join(root, 'whole'), dir, { recursive: true });
    // as if stopped during pcgrad's second epoch: no compare.json, pcgrad without its end, no sequential-stale yet
    rmSync(join(dir, 'compare.json'));
    rmSync(join(dir, 'pcgrad', 'summary.json'));
    rmSync(join(dir, 'pcgrad', 'weights.safetensors'));
    const checkpoints = readdirSync(join(dir, 'pcgrad', 'checkpoints')).sort();
    rmSync(join(dir, 'pcgrad', 'checkpoints', checkpoints.at(-1)!));
    rmSync(join(dir, 'sequential-stale'), { recursive: true });
    const report = await cli('report', dir);
    expect(report.code, report.stderr).toBe(0);

    const resumed = await cli('compare', '--resume', dir);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/\[1\/3\] sum: finished before; kept/);
    const saved = JSON.parse(readFileSync(join(dir, 'compare.json'), 'utf8'));
    expect(saved.runs.map((r: { label: string }) => r.label)).toEqual(['sum', 'pcgrad', 'sequential-stale']);
    for (const run of ['sum', 'pcgrad', 'sequential-stale']) {
      const a = readFileSync(join(root, 'whole', run, 'weights.safetensors'));
      const b = readFileSync(join(dir, run, 'weights.safetensors'));
      expect(b.equals(a), run).toBe(true);
    }
  });

  it('refuses a directory that is no comparison, and settings that would change the plan', async () => {
    const plain = mkdtempSync(join(tmpdir(), 'multitask-not-compare-'));
    const run = await cli('compare', '--resume', plain);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe(`multitask: --resume ${plain}: not a comparison directory (no compare-plan.json; comparisons started before it was written cannot be resumed: resume their runs with train --resume)`);
    const clash = await cli('compare', '--resume', join(root, 'whole'), '--epochs', '3');
    expect(clash.code).toBe(2);
    expect(clash.stderr.trim()).toBe('multitask: --resume: the comparison keeps the settings in its compare-plan.json; --epochs cannot change them');
    expect(existsSync(join(root, 'whole', 'compare-plan.json'))).toBe(true);
  });
});
