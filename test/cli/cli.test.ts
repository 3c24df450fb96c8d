import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSafetensorsHeader } from '../../src/model/safetensors.js';

const bin = new URL('../../bin/multitask.js', import.meta.url).pathname;

interface Run { code: number; stdout: string; stderr: string }

const runsDir = mkdtempSync(join(tmpdir(), 'multitask-runs-'));

/** Runs the CLI; `train` runs go to a temporary runs directory. */
function cli(...args: string[]): Promise<Run> {
  const full = args[0] === 'train' && !args.includes('--resume') ? [...args, '--runs-dir', runsDir] : args;
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...full], { timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/** The closing table's rows: task → final validation metric, best, loss, labelled. */
function finalTable(stdout: string): Record<string, { best: number; metric: number; loss: number; labelled: number }> {
  const lines = stdout.split('\n');
  const start = lines.findIndex((l) => l.startsWith('task'));
  const out: Record<string, { best: number; metric: number; loss: number; labelled: number }> = {};
  for (const line of lines.slice(start + 1)) {
    const m = /^(\S+)\s+(?:accuracy|rmse)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\d+)$/.exec(line.trim());
    if (m) out[m[1]] = { best: Number(m[2]), metric: Number(m[3]), loss: Number(m[4]), labelled: Number(m[5]) };
  }
  return out;
}

function expectUserError(run: Run, pattern: RegExp): void {
  expect(run.code).toBe(2);
  const lines = run.stderr.trim().split('\n');
  expect(lines.at(-1)).toMatch(pattern);
  expect(run.stderr).not.toMatch(/\n\s+at /); // no stack trace
}

describe('multitask train on the built-in penguins data', () => {
  for (const mode of [['--strategy', 'sum'], ['--strategy', 'sequential'], ['--strategy', 'sequential', '--sequential-mode', 'stale']]) {
    it(`reaches ≥ 0.95 validation accuracy on species (${mode.join(' ')})`, async () => {
      const run = await cli('train', ...mode, '--epochs', '20', '--workers', '2');
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toMatch(/epoch 20\/20 \| species loss .* steps\/s/);
      expect(run.stdout).toMatch(/\d+ steps in .* steps\/s\); wall time /);
      const table = finalTable(run.stdout);
      expect(table.species.metric).toBeGreaterThanOrEqual(0.95);
      expect(table.sex.metric).toBeGreaterThan(0.7);
      expect(table.body_mass.metric).toBeLessThan(500); // grams; the target's std is ~800 g
      // partial labels: some validation penguins have no sex, and that task averages over the rest
      expect(table.sex.labelled).toBeLessThan(table.species.labelled);
    }, 120_000);
  }

  it('info prints the kernel backend and worker count', async () => {
    const run = await cli('info');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/kernels: (js|native)/);
    expect(run.stdout).toMatch(/workers: \d+/);
  });
});

describe('bad input gets one clear line and exit code 2', () => {
  const dir = mkdtempSync(join(tmpdir(), 'multitask-cli-'));
  const csv = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const good = 'a,b,label,y\n1,2,cat,0.5\n2,3,dog,1.5\n3,1,cat,2.5\n4,0,dog,0.1\n5,2,cat,0.3\n';

  it('a missing column', async () => {
    expectUserError(await cli('train', '--data', csv('missing.csv', good), '--task', 'colour:cross_entropy'), /missing\.csv.*"colour"/);
  });

  it('a non-numeric value in a numeric column', async () => {
    const path = csv('text.csv', good.replace('3,1,cat', 'three,1,cat'));
    expectUserError(await cli('train', '--data', path, '--task', 'label:cross_entropy'), /text\.csv.*line 4.*"three"/);
  });

  it('an unknown class', async () => {
    const path = csv('classes.csv', good.replace('4,0,dog', '4,0,bird'));
    expectUserError(await cli('train', '--data', path, '--task', 'label:cross_entropy:cat|dog'), /classes\.csv.*"bird"/);
  });

  it('an unknown loss, strategy or bad number', async () => {
    expectUserError(await cli('train', '--data', csv('ok.csv', good), '--task', 'label:crossentropy'), /"crossentropy" is not one of cross_entropy/);
    expectUserError(await cli('train', '--strategy', 'both'), /--strategy: "both" is not one of sum, sequential/);
    expectUserError(await cli('train', '--workers', '0'), /--workers: "0" is not a positive integer/);
    expectUserError(await cli('train', '--task-lr', 'species=0.1'), /per-task learning rates need the "sequential" strategy/);
    expectUserError(await cli('train', '--data', join(dir, 'nope.csv'), '--task', 'a:mse'), /nope\.csv/);
  });

  it('trains on a CSV file with a task spec', async () => {
    const rows = ['a,b,label,y'];
    for (let i = 0; i < 60; i++) rows.push(`${i % 7},${(i * 3) % 5},${i % 7 > 3 ? 'big' : 'small'},${(i % 7) * 0.5 + 1}`);
    const path = csv('train.csv', `${rows.join('\n')}\n`);
    const run = await cli('train', '--data', path, '--task', 'label:cross_entropy', '--task', 'y:mse', '--features', 'a,b', '--epochs', '30', '--workers', '1');
    expect(run.code, run.stderr).toBe(0);
    const table = finalTable(run.stdout);
    expect(table.label.metric).toBeGreaterThanOrEqual(0.9);
    expect(table.y.metric).toBeLessThan(0.5);
  }, 60_000);
});

describe('no command', () => {
  it('prints the overview of commands and exits 2', async () => {
    const run = await cli();
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/Usage: multitask \[options\] \[command\]/);
    expect(run.stderr).toMatch(/train \[options\]/);
  });
});

describe('messages (issue 15)', () => {
  it('a subcommand\'s parse error is printed once', async () => {
    const run = await cli('train', '--epochz', '3');
    expect(run.code).toBe(2);
    expect(run.stderr.match(/unknown option '--epochz'/g)).toHaveLength(1);
    expect(run.stderr).toMatch(/^multitask: unknown option '--epochz'\n\(Did you mean --epochs\?\)\n$/);
  });

  it('eval on a path that is no run directory says what it is', async () => {
    const missing = join(runsDir, 'no-such-run');
    expectUserError(await cli('eval', missing), new RegExp(`^multitask: ${missing}: no such run directory$`));
    const empty = mkdtempSync(join(tmpdir(), 'multitask-empty-'));
    expectUserError(await cli('eval', empty), new RegExp(`^multitask: ${empty}: not a run directory \\(no config\\.json\\)$`));
    const comparison = mkdtempSync(join(tmpdir(), 'multitask-cmp-'));
    writeFileSync(join(comparison, 'compare.json'), '{}');
    expectUserError(await cli('eval', comparison), new RegExp(`^multitask: ${comparison}: a comparison, not a run; give one of its runs \\(it has none yet\\)$`));
    mkdirSync(join(comparison, 'sum'));
    expectUserError(await cli('eval', comparison), new RegExp(`^multitask: ${comparison}: a comparison, not a run; give one of its runs: ${join(comparison, 'sum')}$`));
  });
});

describe('--early-stopping and --keep', () => {
  it('stops when the metric stops improving and saves the best epoch\'s weights (summary and metadata say which)', async () => {
    const run = await cli('train', '--epochs', '60', '--early-stopping', 'sex:loss:2', '--lr', '0.05', '--seed', '2', '--workers', '1', '--name', 'es', '--no-report');
    expect(run.code, run.stderr).toBe(0);
    const stopped = /stopped early after epoch (\d+): no improvement of sex:loss for 2 epochs/.exec(run.stdout);
    expect(stopped).not.toBeNull();
    const best = /weights\.safetensors holds epoch (\d+)'s weights, the best by sex:loss/.exec(run.stdout);
    expect(Number(best![1])).toBe(Number(stopped![1]) - 2);
    const summary = JSON.parse(readFileSync(join(runsDir, 'es', 'summary.json'), 'utf8'));
    expect(summary).toMatchObject({ bestEpoch: Number(best![1]), stoppedEarly: true, keep: 'best' });
    expect(readSafetensorsHeader(join(runsDir, 'es', 'weights.safetensors')).metadata.bestEpoch).toBe(best![1]);
  });

  it('--keep final keeps the last epoch\'s weights; a bad spec is one line, exit 2', async () => {
    const run = await cli('train', '--epochs', '60', '--early-stopping', 'sex:loss:2', '--keep', 'final', '--lr', '0.05', '--seed', '2', '--workers', '1', '--name', 'es-final', '--no-report');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).not.toMatch(/holds epoch/);
    expect(readSafetensorsHeader(join(runsDir, 'es-final', 'weights.safetensors')).metadata.bestEpoch).toBeUndefined();
    expectUserError(await cli('train', '--early-stopping', 'sex'), /^multitask: --early-stopping: "sex" is not <task>:<metric>\[:patience\] or mean\[:patience\]/);
    expectUserError(await cli('train', '--early-stopping', 'sex:rmse', '--epochs', '1'), /^multitask: earlyStopping\.on: task sex reports loss and accuracy, not "rmse"$/);
  });
});

describe('rows dropped or unlabelled are reported', () => {
  it('at the start, in --json and in summary.json (penguins: 2 rows miss a feature, 9 birds have no sex)', async () => {
    const text = await cli('train', '--epochs', '1', '--workers', '1', '--name', 'rows', '--no-report');
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^multitask: penguins\.json, \d+ training \/ \d+ validation rows \(2 rows dropped: a feature value missing; rows without a label: sex 9\), /m);
    const summary = JSON.parse(readFileSync(join(runsDir, 'rows', 'summary.json'), 'utf8'));
    expect(summary).toMatchObject({ droppedRowsMissingFeature: 2, unlabelled: { species: 0, sex: 9, body_mass: 0 } });
    const json = await cli('train', '--epochs', '1', '--workers', '1', '--name', 'rows-json', '--no-report', '--json');
    const start = JSON.parse(json.stdout.split('\n')[0]);
    expect(start).toMatchObject({ type: 'start', droppedRows: { missingFeature: 2 }, unlabelled: { sex: 9 } });
  });
});

describe('predict messages', () => {
  it('a bad value is named by its file and line (not its place among the complete rows)', async () => {
    const trained = await cli('train', '--epochs', '1', '--workers', '1', '--name', 'pred', '--no-report');
    expect(trained.code, trained.stderr).toBe(0);
    const input = join(mkdtempSync(join(tmpdir(), 'multitask-predict-')), 'in.csv');
    writeFileSync(input, [
      'Island,Beak Length (mm),Beak Depth (mm),Flipper Length (mm)',
      'Dream,39.1,18.7,181',
      'Dream,,,',
      'Biscoe,abc,17.4,186',
    ].join('\n'));
    expectUserError(await cli('predict', join(runsDir, 'pred'), '--input', input),
      new RegExp(`^multitask: ${input} line 4, column "Beak Length \\(mm\\)": "abc" is not a number \\(the column is numeric\\)$`));
  });
});

describe('--test', () => {
  const fixture = new URL('./fixtures/penguins.csv', import.meta.url).pathname;

  it('evaluates a held-out table once, with the saved weights, apart from validation (console and summary.json)', async () => {
    const run = await cli('train', '--epochs', '2', '--workers', '1', '--name', 'tested', '--no-report', '--test', fixture);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^Test set \\(${fixture}: 342 rows, 2 dropped: a feature value missing; the final weights\\):$`, 'm'));
    const summary = JSON.parse(readFileSync(join(runsDir, 'tested', 'summary.json'), 'utf8'));
    expect(summary.test).toMatchObject({ source: fixture, rows: 342, droppedRowsMissingFeature: 2 });
    // the same figures as the saved model on the same rows
    const { Model } = await import('../../src/model/model.js');
    const { testSetReport } = await import('../../src/cli/metrics-table.js');
    const again = testSetReport(Model.load(join(runsDir, 'tested')), fixture);
    expect(summary.test.tasks.species.accuracy).toBeCloseTo((again.reports.species as { accuracy: number }).accuracy, 12);
    expect(summary.test.tasks.body_mass.rmse).toBeCloseTo((again.reports.body_mass as { rmse: number }).rmse, 9);
  });

  it('a test table it cannot evaluate fails before training, in one line', async () => {
    const bad = join(mkdtempSync(join(tmpdir(), 'multitask-test-')), 'bad.csv');
    writeFileSync(bad, 'Island,Beak Length (mm)\nDream,40\n');
    expectUserError(await cli('train', '--epochs', '50', '--test', bad), new RegExp(`^multitask: --test ${bad}: no column .*; the test set needs the features and every task's label column$`));
  });
});

describe('more worker threads than cores', () => {
  it('says so once (they share the cores), and trains', async () => {
    const cores = availableParallelism();
    const run = await cli('train', '--epochs', '1', '--workers', String(cores + 1), '--name', 'oversubscribed', '--no-report');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr.match(/worker threads on \d+ cores/g)).toEqual([`worker threads on ${cores} cores`]);
    expect(run.stderr).toContain(`multitask: ${cores + 1} worker threads on ${cores} cores share them: expect it slower than --workers ${cores}`);
  });
});

describe('--compute-on', () => {
  it('coordinator: --profile says where the jobs ran, --json\'s summary too; resume may change it', async () => {
    const run = await cli('train', '--epochs', '1', '--compute-on', 'coordinator', '--profile', '--name', 'inline', '--no-report');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('  gradient jobs computed on the coordinator thread\n');
    const resumed = await cli('train', '--resume', join(runsDir, 'inline'), '--compute-on', 'workers', '--json');
    expect(resumed.code, resumed.stderr).toBe(0);
    const summary = JSON.parse(resumed.stdout.trim().split('\n').at(-1)!);
    expect(summary.type).toBe('summary');
    expect(summary.computeOn).toEqual({ placement: 'workers' });
    // where a run computes is not part of its stored config
    expect(JSON.parse(readFileSync(join(runsDir, 'inline', 'config.json'), 'utf8'))).not.toHaveProperty('computeOn');
  });

  it('a place it does not know is one line with a suggestion, exit 2', async () => {
    expectUserError(await cli('train', '--compute-on', 'coordinater'), /--compute-on: "coordinater" is not one of auto, workers, coordinator \(did you mean "coordinator"\?\)/);
  });
});

describe('--class-weight (issue 15, item 5)', () => {
  it('trains with balanced weights; config.json, summary.json and the weights file hold the numbers', async () => {
    const run = await cli('train', '--class-weight', 'species=balanced', '--class-weight', 'sex=balanced', '--epochs', '2', '--workers', '1', '--name', 'weighted', '--no-report');
    expect(run.code, run.stderr).toBe(0);
    const dir = join(runsDir, 'weighted');
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { classWeights: Record<string, number[]> };
    expect(config.classWeights.species).toHaveLength(3);
    expect(config.classWeights.sex).toHaveLength(1);
    expect([...config.classWeights.species, ...config.classWeights.sex].every((w) => Number.isFinite(w) && w > 0)).toBe(true);
    const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as { classWeights: unknown };
    expect(summary.classWeights).toEqual(config.classWeights);
    const meta = JSON.parse(readSafetensorsHeader(join(dir, 'weights.safetensors')).metadata.multitask) as { model: { tasks: { classWeights?: number[] }[] } };
    expect(meta.model.tasks.map((t) => t.classWeights)).toEqual([config.classWeights.species, config.classWeights.sex, undefined]);
  }, 120_000);

  it('bad settings are one line and exit code 2', async () => {
    expectUserError(await cli('train', '--class-weight', 'body_mass=1'), /^multitask: classWeights\.body_mass: task "body_mass" has loss mse, a regression loss/);
    expectUserError(await cli('train', '--class-weight', 'species=1,2'), /^multitask: classWeights\.species: 2 weights given, task "species" takes one weight per class \(Adelie, Chinstrap, Gentoo\)$/);
    expectUserError(await cli('train', '--class-weight', 'penguin=balanced'), /^multitask: classWeights\.penguin: unknown task "penguin" \(tasks: species, sex, body_mass\)$/);
    expectUserError(await cli('train', '--class-weight', 'species=1,-1,1'), /--class-weight species=1,-1,1: "-1" is not a number ≥ 0/);
  }, 60_000);
});
