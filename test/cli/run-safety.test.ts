import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const bin = new URL('../../bin/multitask.js', import.meta.url).pathname;
const fixture = new URL('./fixtures/penguins.csv', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'multitask-safety-'));
const runs = join(dir, 'runs');
const SHORT = ['--epochs', '2', '--batch-size', '32', '--checkpoint-every', '4', '--workers', '1', '--no-report', '--runs-dir', runs];

interface Finished { code: number | null; stdout: string; stderr: string }

/** Runs the CLI in `dir`; `act` sees the child and its stdout so far. */
function start(args: string[], act?: (child: ReturnType<typeof spawn>, stdout: () => string) => void): Promise<Finished> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: dir });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    act?.(child, () => stdout);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Once training is under way (its "each task:" line): `then` (e.g. a signal). */
const whenTraining = (then: (child: ReturnType<typeof spawn>) => void) => (child: ReturnType<typeof spawn>, out: () => string) => {
  const wait = setInterval(() => {
    if (!out().includes('each task:')) return;
    clearInterval(wait);
    then(child);
  }, 5);
  child.on('exit', () => clearInterval(wait));
};

/** Exit 2, the last stderr line matching, no stack trace. */
function expectUserError(run: Finished, pattern: RegExp): void {
  expect(run.code, run.stdout + run.stderr).toBe(2);
  expect(run.stderr.trim().split('\n').at(-1)).toMatch(pattern);
  expect(run.stderr).not.toMatch(/\n\s+at |internal error/);
}

describe('one writer per run (real processes)', () => {
  it('train --resume and a second train --name while the first runs: exit 2 naming the holder; the first is unharmed', async () => {
    const name = 'busy';
    let second: Promise<Finished> | undefined;
    let third: Promise<Finished> | undefined;
    const first = await start(['train', ...SHORT, '--epochs', '100000', '--checkpoint-every', '50', '--name', name], whenTraining((child) => {
      second = start(['train', '--resume', join(runs, name)]);
      third = start(['train', ...SHORT, '--name', name]);
      void Promise.all([second, third]).then(() => child.kill('SIGINT'));
    }));
    const holder = new RegExp(`^multitask: ${join(runs, name)}: in use by process \\d+ on \\S+ since \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z \\(lock ${join(runs, name, 'lock')}\\); wait for it to finish, or remove the lock if no such process runs$`);
    expectUserError(await second!, holder);
    expectUserError(await third!, holder);
    expect(first.code, first.stderr).toBe(130);
    expect(existsSync(join(runs, name, 'lock'))).toBe(false);
    // metrics in order, no step twice
    const steps = readFileSync(join(runs, name, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.type === 'step').map((r) => r.step);
    expect(steps).toEqual(steps.map((_, i) => i));
    const resumed = await start(['train', '--resume', join(runs, name)], whenTraining((child) => child.kill('SIGTERM')));
    expect(resumed.code, resumed.stderr).toBe(143);
  }, 120_000);

  it('a lock left by a killed run is taken over with a notice', async () => {
    const name = 'killed';
    const killed = await start(['train', ...SHORT, '--epochs', '100000', '--name', name], whenTraining((child) => child.kill('SIGKILL')));
    expect(killed.code).toBe(null);
    expect(existsSync(join(runs, name, 'lock'))).toBe(true);
    const resumed = await start(['train', '--resume', join(runs, name)], whenTraining((child) => child.kill('SIGINT')));
    expect(resumed.code, resumed.stderr).toBe(130);
    expect(resumed.stderr).toMatch(new RegExp(`${join(runs, name)}: took over the lock of process \\d+ on \\S+ since \\S+, which no longer runs`));
    expect(resumed.stderr).not.toMatch(/\n\s+at /);
  }, 120_000);
});

describe('run names and directories', () => {
  it('--name .. and --name . are refused in one line; nothing is written next to the runs dir', async () => {
    expectUserError(await start(['train', ...SHORT, '--name', '..']), /^multitask: config: name: "\.\." is not one path segment \(a run name other than "\." or "\.\."\)$/);
    expectUserError(await start(['train', ...SHORT, '--name', '.']), /^multitask: config: name: "\." is not one path segment/);
    expectUserError(await start(['compare', ...SHORT.filter((a, i) => a !== '--checkpoint-every' && SHORT[i - 1] !== '--checkpoint-every'), '--name', '..', '--strategies', 'sum']), /"\.\." is not one path segment/);
    expectUserError(await start(['train', ...SHORT, '--name', 'n'.repeat(300)]), /is not a run name of at most 100 characters \(300 given\)$/);
    expect(existsSync(join(dir, 'config.json'))).toBe(false);
    expect(existsSync(join(dir, 'metrics.jsonl'))).toBe(false);
  });

  it('a directory the run did not write is not reused: a planted metrics.jsonl symlink keeps its target', async () => {
    const victim = join(dir, 'victim.txt');
    writeFileSync(victim, 'precious\n');
    const planted = join(runs, 'planted');
    mkdirSync(planted, { recursive: true });
    symlinkSync(victim, join(planted, 'metrics.jsonl'));
    expectUserError(await start(['train', ...SHORT, '--name', 'planted']), new RegExp(`^multitask: --name: ${planted} is not empty \\(metrics\\.jsonl\\) and holds no run; pick another name, or empty it$`));
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
  });
});

describe('resume', () => {
  it('falls back past a corrupt newest checkpoint, naming it; the leftover temporary file of a killed write is removed', async () => {
    const name = 'fallback';
    const run = await start(['train', ...SHORT, '--name', name]);
    expect(run.code, run.stderr).toBe(0);
    const ckpts = join(runs, name, 'checkpoints');
    const files = readdirSync(ckpts).sort();
    expect(files.length).toBe(3);
    const newest = join(ckpts, files[2]);
    const bytes = readFileSync(newest);
    bytes[100] ^= 0xff;
    writeFileSync(newest, bytes);
    const leftover = join(ckpts, `.${files[2]}.99999.1796450439977.tmp`);
    writeFileSync(leftover, bytes.subarray(0, 50));
    const resumed = await start(['train', '--resume', join(runs, name)]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain(`removed ${leftover}, a temporary file left by an interrupted write`);
    expect(resumed.stderr).toContain(`skipped checkpoint ${newest} (checkpoint is corrupted (SHA-256 of its body does not match)); set aside as ${newest}.rejected`);
    const step = Number(files[1].match(/\d+/)![0]);
    expect(resumed.stdout).toMatch(new RegExp(`resuming .* at epoch \\d+, step ${step}\\b`));
    expect(existsSync(leftover)).toBe(false);
  }, 120_000);

  it('no checkpoint loading: one line naming each and why, and no "last good checkpoint" advice', async () => {
    const name = 'allbad';
    expect((await start(['train', ...SHORT, '--name', name])).code).toBe(0);
    const ckpts = join(runs, name, 'checkpoints');
    for (const f of readdirSync(ckpts)) writeFileSync(join(ckpts, f), 'not a checkpoint at all, not even close to one');
    const resumed = await start(['train', '--resume', join(runs, name)]);
    expectUserError(resumed, new RegExp(`^multitask: ${ckpts}: no checkpoint loads: step-\\d+\\.ckpt \\(not a multitask checkpoint .*\\); step-\\d+\\.ckpt .*; step-\\d+\\.ckpt .*$`));
    expect(resumed.stderr).not.toMatch(/last good checkpoint/);
  }, 120_000);

  it('a changed data file is refused unless --allow-data-change', async () => {
    const data = join(dir, 'penguins.csv');
    copyFileSync(fixture, data);
    const name = 'data-change';
    const args = ['train', ...SHORT, '--data', data, '--task', 'Species:cross_entropy', '--name', name];
    expect((await start(args)).code).toBe(0);
    expect(JSON.parse(readFileSync(join(runs, name, 'data.json'), 'utf8')).files[0]).toMatchObject({ path: data, bytes: readFileSync(fixture).length });
    const same = await start(['train', '--resume', join(runs, name)]);
    expect(same.code, same.stderr).toBe(0);
    writeFileSync(data, readFileSync(fixture, 'utf8').replace('39.1', '39.2'));
    expectUserError(await start(['train', '--resume', join(runs, name)]),
      new RegExp(`^multitask: --resume: data file ${data} changed since the run started \\(\\d+ bytes, sha256 [0-9a-f]{12}\\.\\.\\. then; \\d+ bytes, sha256 [0-9a-f]{12}\\.\\.\\. now\\); continue on the new data with --allow-data-change$`));
    const allowed = await start(['train', '--resume', join(runs, name), '--allow-data-change']);
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(allowed.stderr).toMatch(/changed since the run started .*; continuing on it \(--allow-data-change\)/);
    expectUserError(await start(['train', ...SHORT, '--allow-data-change']), /^multitask: --allow-data-change: only with --resume$/);
  }, 120_000);
});

describe('outputs: an existing file only with --force, never an input', () => {
  const run = join(runs, 'outputs');
  it('export, predict, report, schema and --save-weights', async () => {
    const weights = join(dir, 'w.safetensors');
    writeFileSync(weights, 'old');
    const trained = await start(['train', ...SHORT, '--name', 'outputs', '--save-weights', weights]);
    expectUserError(trained, new RegExp(`^multitask: --save-weights ${weights}: the file exists \\(use --force to overwrite it\\)$`));
    expect(readFileSync(weights, 'utf8')).toBe('old');
    expect((await start(['train', ...SHORT, '--name', 'outputs', '--save-weights', weights, '--force'])).code).toBe(0);
    expect(readFileSync(weights).length).toBeGreaterThan(100);

    const existing = join(dir, 'existing.out');
    for (const args of [['export', run, '--out', existing], ['predict', run, '--input', fixture, '--out', existing], ['report', run, '--out', existing], ['schema', '--out', existing]]) {
      writeFileSync(existing, 'keep');
      expectUserError(await start(args), new RegExp(`^multitask: --out ${existing}: the file exists \\(use --force to overwrite it\\)$`));
      expect(readFileSync(existing, 'utf8')).toBe('keep');
      const forced = await start([...args, '--force']);
      expect(forced.code, `${args[0]}: ${forced.stderr}`).toBe(0);
      expect(readFileSync(existing, 'utf8')).not.toBe('keep');
    }

    const input = join(dir, 'input.csv');
    copyFileSync(fixture, input);
    expectUserError(await start(['predict', run, '--input', input, '--out', input, '--force']), new RegExp(`^multitask: --out ${input}: that is an input of this command \\(${input}\\); write elsewhere$`));
    expect(readFileSync(input, 'utf8')).toBe(readFileSync(fixture, 'utf8'));
    expectUserError(await start(['export', run, '--out', join(run, 'weights.safetensors'), '--force']), /: that is an input of this command/);
    expectUserError(await start(['report', run, '--out', join(run, 'metrics.jsonl'), '--force']), /: that is an input of this command/);
  }, 120_000);
});
