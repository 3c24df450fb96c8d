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

describe('compare --seeds', () => {
  it('runs every strategy per seed, each run the same as that seed\'s single comparison; mean ± std in compare.json', async () => {
    const seeds = await cli('compare', '--strategies', 'sum,pcgrad', '--seeds', '0,1', '--epochs', '1', '--workers', '1', '--runs-dir', root, '--name', 'seeds', '--no-report');
    expect(seeds.code, seeds.stderr).toBe(0);
    expect(seeds.stdout).toMatch(/mean ± standard deviation over seeds 0, 1/);
    expect(seeds.stdout).toMatch(/^pcgrad\s+\d\.\d+ ± \d\.\d+/m);
    const one = await cli('compare', '--strategies', 'sum,pcgrad', '--seed', '1', '--epochs', '1', '--workers', '1', '--runs-dir', root, '--name', 'seed1', '--no-report');
    expect(one.code, one.stderr).toBe(0);
    const a = readFileSync(join(root, 'seeds', 'seed-1', 'pcgrad', 'weights.safetensors'));
    expect(a.equals(readFileSync(join(root, 'seed1', 'pcgrad', 'weights.safetensors')))).toBe(true);
    const saved = JSON.parse(readFileSync(join(root, 'seeds', 'compare.json'), 'utf8'));
    expect(saved.seeds).toEqual([0, 1]);
    expect(saved.runs.map((r: { label: string; seed: number }) => `${r.label}@${r.seed}`)).toEqual(['sum@0', 'pcgrad@0', 'sum@1', 'pcgrad@1']);
    const pc = saved.aggregate.find((g: { label: string }) => g.label === 'pcgrad');
    const species = saved.runs.filter((r: { label: string }) => r.label === 'pcgrad').map((r: { metrics: { species: number } }) => r.metrics.species);
    expect(pc.metrics.species.mean).toBeCloseTo((species[0] + species[1]) / 2, 12);
    expect(pc.metrics.species.n).toBe(2);
    expect(saved.aggregate.find((g: { label: string }) => g.label === 'sum').deltaM).toMatchObject({ mean: 0, std: 0, n: 2 });
    // its report (from compare.json): every seed's run, and mean ± std over the seeds as the console printed it
    const report = await cli('report', join(root, 'seeds'));
    expect(report.code, report.stderr).toBe(0);
    const html = readFileSync(join(root, 'seeds', 'report.html'), 'utf8');
    const doc = JSON.parse(/<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html)![1]);
    const [perRun, over] = doc.sections[0].tables as { title: string; rows: (string | number)[][] }[];
    expect(perRun.rows.map((r) => r[0])).toEqual(['sum · seed 0', 'pcgrad · seed 0', 'sum · seed 1', 'pcgrad · seed 1']);
    expect(over.title).toBe('Over seeds 0, 1: mean ± standard deviation');
    const consoleRow = seeds.stdout.split('\n').find((l) => l.startsWith('pcgrad'))!.trim().split(/\s{2,}/);
    expect(over.rows[1][0]).toBe('pcgrad');
    // the same cells as the console: each metric's mean ± std, and Δm%'s with its * if any
    expect(over.rows[1].slice(0, -1)).toEqual(consoleRow.slice(0, -1));
    // stopped before compare.json: the report finds the runs so far under seed-<s>/
    cpSync(join(root, 'seeds'), join(root, 'seeds-cut'), { recursive: true });
    rmSync(join(root, 'seeds-cut', 'compare.json'));
    rmSync(join(root, 'seeds-cut', 'seed-1', 'pcgrad'), { recursive: true });
    const cut = await cli('report', join(root, 'seeds-cut'));
    expect(cut.code, cut.stderr).toBe(0);
    const cutHtml = readFileSync(join(root, 'seeds-cut', 'report.html'), 'utf8');
    expect(JSON.parse(/<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(cutHtml)![1]).title)
      .toBe('multitask compare (unfinished: 3 of 4 runs started)');
  });

  it('--seed with --seeds, or a bad list, is one line, exit 2', async () => {
    const both = await cli('compare', '--seeds', '0,1', '--seed', '3', '--runs-dir', root);
    expect(both.code).toBe(2);
    expect(both.stderr.trim()).toBe('multitask: --seed: give --seeds or --seed, not both');
    const bad = await cli('compare', '--seeds', '0,0', '--runs-dir', root);
    expect(bad.stderr.trim()).toBe('multitask: --seeds: "0,0" is not a list of distinct non-negative integers (e.g. 0,1,2)');
  });
});
