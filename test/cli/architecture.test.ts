/* The CLI with --architecture mmoe / ple: a run, its gate weights per epoch, and bad flags (exit 2, one line). */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const bin = new URL('../../bin/multitask.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'multitask-architecture-'));
const runs = join(dir, 'runs');

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { timeout: 120_000, cwd: dir }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('multitask train --architecture', () => {
  it('ple: trains, streams each gate\'s mean expert weights per epoch, records them in metrics.jsonl', async () => {
    const run = await cli(['train', '--architecture', 'ple', '--levels', '2', '--experts', '1', '--expert-widths', '8', '--epochs', '2',
      '--workers', '2', '--no-report', '--json', '--runs-dir', runs, '--name', 'ple']);
    expect(run.code, run.stderr).toBe(0);
    const epochs = run.stdout.trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.type === 'epoch');
    expect(epochs).toHaveLength(2);
    // penguins: three task gates per level, one shared gate below the last level
    expect(Object.keys(epochs[1].gates).sort()).toEqual(['gates.body_mass.0', 'gates.body_mass.1', 'gates.sex.0', 'gates.sex.1', 'gates.species.0', 'gates.species.1', 'shared_gates.0']);
    expect(Object.keys(epochs[1].gates['gates.sex.1'])).toEqual(['experts.sex.1.0', 'shared_experts.1.0']);
    const records = readFileSync(join(runs, 'ple', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(records.filter((r) => r.gates).map((r) => r.split)).toEqual(['validation', 'validation']);
  }, 120_000);

  it('bad values: exit 2 and one line naming the flag or field', async () => {
    const moe = await cli(['train', '--architecture', 'moe', '--runs-dir', runs]);
    expect(moe.code).toBe(2);
    expect(moe.stderr.trim()).toMatch(/--architecture/);
    const levels = await cli(['train', '--architecture', 'mmoe', '--levels', '2', '--runs-dir', runs]);
    expect(levels.code).toBe(2);
    expect(levels.stderr.trim().split('\n')).toHaveLength(1);
    expect(levels.stderr).toMatch(/model\.levels: only for architecture ple \(model\.architecture is "mmoe"\)/);
    // a config file's model and the flags are checked together, once merged: experts in the file, the architecture as a flag
    const config = join(dir, 'experts.json');
    writeFileSync(config, JSON.stringify({ model: { experts: 2, expert: [8] } }));
    const merged = await cli(['train', '--config', config, '--architecture', 'mmoe', '--epochs', '1', '--no-report', '--runs-dir', runs, '--name', 'merged']);
    expect(merged.code, merged.stderr).toBe(0);
    const alone = await cli(['train', '--config', config, '--epochs', '1', '--no-report', '--runs-dir', runs, '--name', 'alone']);
    expect(alone.code).toBe(2);
    expect(alone.stderr).toMatch(/model\.experts: only for architecture mmoe or ple \(model\.architecture is "shared"\)/);
  }, 60_000);
});
