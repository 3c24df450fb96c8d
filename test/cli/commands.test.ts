import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readConfigFile } from '../../src/cli/config.js';
import { configDataset, runDirConfig } from '../../src/trainer/legacy-model.js';
import { loadTable } from '../../src/data/load-table.js';
import { Model } from '../../src/index.js';
import { METADATA_KEY } from '../../src/model/model.js';
import { readSafetensors, writeSafetensors } from '../../src/model/safetensors.js';
import { expectUserError, penguinsFixture, penguinsTasks, runCli } from '../helpers/cli.js';
import { writeNpy } from '../helpers/npy.js';
import { tableRows } from '../../src/data/table.js';

const fixture = penguinsFixture;
const dir = mkdtempSync(join(tmpdir(), 'multitask-commands-'));
const runs = join(dir, 'runs');

const cli = (args: string[], env: NodeJS.ProcessEnv = {}, nodeArgs: string[] = []) => runCli(args, { cwd: dir, env, nodeArgs });

const write = (name: string, value: unknown) => {
  const path = join(dir, name);
  writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value, null, 2));
  return path;
};

/** The penguins CSV fixture as a config: two classifications and a regression. */
const config = {
  ...penguinsTasks,
  epochs: 8,
  workers: 2,
  checkpointEvery: 20,
  runsDir: 'runs',
};
const configPath = write('run.json', config);
const runDir = join(runs, 'csv');

/** The closing table of train: task → final validation metric. */
function finalMetrics(stdout: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of stdout.split('\n')) {
    const m = /^(\w+)\s+(?:accuracy|rmse)\s+\S+\s+(\S+)\s+\S+\s+\d+$/.exec(line.trim());
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

describe('train --config', () => {
  it('writes the run directory with every file', async () => {
    const run = await cli(['train', '--config', configPath, '--name', 'csv', '--save-weights', 'exported/final.safetensors']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/epoch 8\/8 \| species loss/);
    expect(run.stdout).toMatch(/task\s+metric\s+best val\s+final val\s+val loss\s+labelled/);
    expect(run.stdout).toMatch(/steps\/s\); wall time/);
    for (const file of ['config.json', 'metrics.jsonl', 'weights.safetensors', 'summary.json', 'report.html']) {
      expect(existsSync(join(runDir, file)), file).toBe(true);
    }
    expect(readdirSync(join(runDir, 'checkpoints')).some((f) => f.endsWith('.ckpt'))).toBe(true);
    expect(existsSync(join(dir, 'exported/final.safetensors'))).toBe(true);
    const saved = JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8'));
    // config.json holds the resolved config itself (no format wrapper): Trainer.create takes it as it is
    expect(saved.format).toBeUndefined();
    expect(saved).toMatchObject({ epochs: 8, strategy: 'sum', optimizer: { name: 'adam', lr: 0.01 }, data: { path: fixture, format: 'csv' } });
    const summary = JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8'));
    expect(summary.tasks.map((t: { name: string }) => t.name)).toEqual(['species', 'sex', 'mass']);
    const finals = finalMetrics(run.stdout);
    expect(finals.species).toBeCloseTo(summary.tasks[0].finalValidation, 3);
    expect(finals.species).toBeGreaterThan(0.9);
    const lines = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.filter((l) => l.type === 'eval' && l.split === 'validation')).toHaveLength(8);
  });

  it('eval on the trained weights: accuracy, F1, AUC; RMSE, MAE, R² (agreeing with training\'s own figures)', async () => {
    const run = await cli(['eval', runDir]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/task\s+rows\s+accuracy\s+F1\s+AUC\s+RMSE\s+MAE\s+R²/);
    const json = await cli(['eval', '--config', configPath, '--weights', join(runDir, 'weights.safetensors'), '--json']);
    expect(json.code, json.stderr).toBe(0);
    const result = JSON.parse(json.stdout);
    const summary = JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8'));
    const final = (name: string) => summary.tasks.find((t: { name: string }) => t.name === name).finalValidation;
    expect(result.tasks.species.accuracy).toBeCloseTo(final('species'), 6);
    expect(result.tasks.sex.accuracy).toBeCloseTo(final('sex'), 6);
    expect(result.tasks.mass.rmse / final('mass')).toBeCloseTo(1, 3);
    for (const task of ['species', 'sex']) {
      expect(result.tasks[task].f1).toBeGreaterThan(0.5);
      expect(result.tasks[task].auc).toBeGreaterThan(0.8);
    }
    expect(result.tasks.mass.r2).toBeGreaterThan(0.5);
    expect(result.tasks.mass.mae).toBeLessThan(result.tasks.mass.rmse);
    const all = JSON.parse((await cli(['eval', runDir, '--split', 'all', '--json'])).stdout);
    expect(all.tasks.species.count).toBe(342);
    expectUserError(await cli(['eval', runDir, '--split', 'test']), /--split: "test" is not one of validation, train, all/);
  });

  it('predict writes the input columns plus each task\'s prediction (class names, grams) and probabilities', async () => {
    const run = await cli(['predict', runDir, '--input', fixture, '--out', 'predictions.csv', '--probabilities']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/342 predictions written to predictions\.csv; 2 rows miss a feature/);
    const lines = readFileSync(join(dir, 'predictions.csv'), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(345);
    const header = lines[0].split(',');
    expect(header).toEqual(['Species', 'Island', 'Beak Length (mm)', 'Beak Depth (mm)', 'Flipper Length (mm)', 'Body Mass (g)', 'Sex',
      'pred_species', 'prob_species_Adelie', 'prob_species_Chinstrap', 'prob_species_Gentoo', 'pred_sex', 'prob_sex_FEMALE', 'prob_sex_MALE', 'pred_mass']);
    const rows = lines.slice(1).map((l) => l.split(','));
    const full = rows.filter((r) => r[7] !== '');
    expect(full).toHaveLength(342);
    let right = 0;
    for (const r of full) {
      expect(['Adelie', 'Chinstrap', 'Gentoo']).toContain(r[7]);
      expect(['FEMALE', 'MALE']).toContain(r[11]);
      expect(Number(r[8]) + Number(r[9]) + Number(r[10])).toBeCloseTo(1, 5);
      expect(Number(r[12]) + Number(r[13])).toBeCloseTo(1, 5);
      expect(Number(r[14])).toBeGreaterThan(2000); // grams, not standardized units
      expect(Number(r[14])).toBeLessThan(7000);
      if (r[7] === r[0]) right++;
    }
    expect(right / full.length).toBeGreaterThan(0.9);
    expectUserError(await cli(['predict', runDir, '--input', write('nofeat.csv', 'a,b\n1,2\n')]), /nofeat\.csv: no column "Island", .*; the model needs/);
  });

  it('export writes the run\'s weights as safetensors', async () => {
    const run = await cli(['export', runDir, '--out', 'model.safetensors']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/tensors from .* written to model\.safetensors/);
    expect(readFileSync(join(dir, 'model.safetensors')).equals(readFileSync(join(runDir, 'weights.safetensors')))).toBe(true);
    expectUserError(await cli(['export', dir, '--out', 'x.safetensors']), /no weights\.safetensors and no checkpoint to export/);
  });

  it('--init-weights starts from given weights; a mismatch names the tensor and creates no run', async () => {
    const good = await cli(['train', '--config', configPath, '--epochs', '1', '--name', 'warm', '--init-weights', join(runDir, 'weights.safetensors'), '--quiet', '--no-report']);
    expect(good.code, good.stderr).toBe(0);
    expect(finalMetrics(good.stdout).species).toBeGreaterThan(0.9);
    const bad = await cli(['train', '--epochs', '1', '--workers', '2', '--runs-dir', 'runs', '--name', 'mismatch', '--init-weights', join(runDir, 'weights.safetensors')]);
    expectUserError(bad, /weights\.safetensors: the weights do not match the model: .*missing tensor heads\.body_mass\.weight \[1, 64\].*extra tensor heads\.mass\.weight/);
    expect(existsSync(join(runs, 'mismatch'))).toBe(false);
  });

  it('report rewrites report.html', async () => {
    const run = await cli(['report', runDir, '--out', 'again.html']);
    expect(run.code, run.stderr).toBe(0);
    expect(readFileSync(join(dir, 'again.html'), 'utf8')).toMatch(/^<!DOCTYPE html>/i);
  });
});

describe('eval and predict: a Model on this thread', () => {
  const countWorkers = ['--import', new URL('./fixtures/count-workers.mjs', import.meta.url).href];
  const started = /count-workers: a worker thread started/;
  /** The fixture's rows with every feature of the model, as raw records. */
  const fixtureRecords = () => {
    const t = loadTable(fixture);
    const cols = config.data.features.map((f) => t.columns.indexOf(f));
    return tableRows(t).filter((row) => cols.every((c) => row[c] !== null)).map((row) => Object.fromEntries(t.columns.map((c, i) => [c, row[i]])));
  };
  /** The prediction columns of a `multitask predict --probabilities` CSV (rows with a prediction). */
  const predictionColumns = (csv: string) => csv.trim().split('\n').slice(1).map((l) => l.split(',').slice(7)).filter((r) => r[0] !== '');
  const f32 = (x: number) => String(Number(x.toPrecision(7)));

  it('eval and predict start no worker thread (the same hook sees train\'s)', async () => {
    const train = await cli(['train', '--config', configPath, '--epochs', '1', '--workers', '1', '--name', 'hooked', '--quiet', '--no-report'], {}, countWorkers);
    expect(train.code, train.stderr).toBe(0);
    expect(train.stderr).toMatch(started);
    const evaluated = await cli(['eval', runDir, '--split', 'all'], {}, countWorkers);
    expect(evaluated.code, evaluated.stderr).toBe(0);
    expect(evaluated.stderr).not.toMatch(started);
    const withConfig = await cli(['eval', '--config', configPath, '--weights', join(runDir, 'weights.safetensors')], {}, countWorkers);
    expect(withConfig.code, withConfig.stderr).toBe(0);
    expect(withConfig.stderr).not.toMatch(started);
    const predicted = await cli(['predict', runDir, '--input', fixture, '--out', 'hooked.csv'], {}, countWorkers);
    expect(predicted.code, predicted.stderr).toBe(0);
    expect(predicted.stderr).not.toMatch(started);
  });

  it('Model.load of the weights file alone (no run directory) reproduces `multitask predict` on raw records', async () => {
    const alone = join(mkdtempSync(join(tmpdir(), 'multitask-weights-alone-')), 'model.safetensors');
    copyFileSync(join(runDir, 'weights.safetensors'), alone);
    const model = Model.load(alone);
    const p = model.predict(fixtureRecords(), { probabilities: true });
    const expected = predictionColumns(readFileSync(join(dir, 'predictions.csv'), 'utf8'));
    expect(expected).toHaveLength(342);
    const got = expected.map((_, k) => [
      p.species.classes![k], ...[0, 1, 2].map((c) => f32(p.species.probabilities![3 * k + c])),
      p.sex.classes![k], ...[0, 1].map((c) => f32(p.sex.probabilities![2 * k + c])),
      f32(p.mass.outputs[k]),
    ]);
    expect(got).toEqual(expected);
  });

  it('model.evaluate gives the metrics `multitask eval` prints', async () => {
    const model = Model.load(runDir);
    const dataset = configDataset(runDirConfig(runDir));
    for (const split of ['validation', 'all'] as const) {
      const run = await cli(['eval', runDir, '--split', split, '--json']);
      expect(run.code, run.stderr).toBe(0);
      expect(JSON.parse(JSON.stringify(model.evaluate({ dataset, split })))).toEqual(JSON.parse(run.stdout).tasks);
    }
  });

  it('weights written before the metadata: eval, predict, export and Model.load rebuild it from the run\'s config.json', async () => {
    const legacy = join(runs, 'legacy');
    mkdirSync(legacy, { recursive: true });
    copyFileSync(join(runDir, 'config.json'), join(legacy, 'config.json'));
    const file = readSafetensors(join(runDir, 'weights.safetensors'));
    const { [METADATA_KEY]: dropped, ...oldMetadata } = file.metadata;
    expect(dropped).toBeDefined();
    writeSafetensors(join(legacy, 'weights.safetensors'), [...file.tensors].map(([name, t]) => ({ name, shape: t.shape, data: t.data })), oldMetadata);

    const evalNew = JSON.parse((await cli(['eval', runDir, '--json'])).stdout);
    const evalOld = await cli(['eval', legacy, '--json']);
    expect(evalOld.code, evalOld.stderr).toBe(0);
    expect(JSON.parse(evalOld.stdout).tasks).toEqual(evalNew.tasks);
    const predictOld = await cli(['predict', legacy, '--input', fixture, '--out', 'legacy.csv', '--probabilities']);
    expect(predictOld.code, predictOld.stderr).toBe(0);
    expect(readFileSync(join(dir, 'legacy.csv'), 'utf8')).toBe(readFileSync(join(dir, 'predictions.csv'), 'utf8'));

    const records = fixtureRecords();
    const reference = Model.load(runDir).predict(records).mass.outputs;
    expect(Array.from(Model.load(legacy).predict(records).mass.outputs)).toEqual(Array.from(reference));
    expect(Array.from(Model.load(join(legacy, 'weights.safetensors')).predict(records).mass.outputs)).toEqual(Array.from(reference));
    const alone = join(mkdtempSync(join(tmpdir(), 'multitask-legacy-alone-')), 'old.safetensors');
    copyFileSync(join(legacy, 'weights.safetensors'), alone);
    expect(() => Model.load(alone)).toThrow(/no config\.json: a weights file written before weights files carried their preprocessing/);

    const exported = await cli(['export', legacy, '--out', 'legacy-export.safetensors']);
    expect(exported.code, exported.stderr).toBe(0);
    const re = readSafetensors(join(dir, 'legacy-export.safetensors'));
    expect(re.metadata[METADATA_KEY]).toBe(file.metadata[METADATA_KEY]);
    expect(re.metadata.strategy).toBe(file.metadata.strategy);
    copyFileSync(join(dir, 'legacy-export.safetensors'), alone);
    expect(Array.from(Model.load(alone).predict(records).mass.outputs)).toEqual(Array.from(reference));
  });
});

describe('output modes', () => {
  it('--json streams JSON lines: start, steps, epochs, summary', async () => {
    const run = await cli(['train', '--epochs', '2', '--workers', '2', '--runs-dir', 'runs', '--name', 'json', '--json', '--strategy', 'pcgrad', '--no-report']);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines[0].type).toBe('start');
    expect(lines.at(-1).type).toBe('summary');
    expect(lines.filter((l) => l.type === 'epoch')).toHaveLength(2);
    const steps = lines.filter((l) => l.type === 'step');
    expect(steps.length).toBe(lines[0].stepsPerEpoch * 2);
    expect(steps[0]).toMatchObject({ losses: { species: expect.any(Number) }, norms: { sex: expect.any(Number) }, cosines: { 'species|sex': expect.any(Number) }, conflicts: expect.any(Number) });
    expect(lines.at(-1)).toMatchObject({ strategy: 'pcgrad', steps: steps.length, meanConflicts: expect.any(Number) });
  });

  it('--quiet prints only the final table', async () => {
    const run = await cli(['train', '--epochs', '1', '--workers', '2', '--runs-dir', 'runs', '--name', 'quiet', '--quiet', '--no-report']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).not.toMatch(/epoch 1\/1|multitask:|run:/);
    expect(run.stdout).toMatch(/task\s+metric\s+best val/);
    expect(run.stderr).toBe('');
    // the portable kernels' notice is not an error either
    const js = await cli(['train', '--epochs', '1', '--workers', '2', '--runs-dir', 'runs', '--name', 'quiet-js', '--quiet', '--no-report'], { MULTITASK_KERNELS: 'js' });
    expect(js.code, js.stderr).toBe(0);
    expect(js.stderr).toBe('');
  });

  it('not a TTY: plain lines, no colour codes, no progress bar', async () => {
    const run = await cli(['train', '--epochs', '1', '--workers', '2', '--runs-dir', 'runs', '--name', 'plain', '--no-report']);
    expect(run.stdout).toMatch(/^epoch 1\/1 \| species loss/m);
    expect(run.stdout).not.toMatch(/\u001b\[/);
  });
});

describe('schema and init', () => {
  it('schema prints the JSON Schema', async () => {
    const run = await cli(['schema']);
    expect(run.code).toBe(0);
    const schema = JSON.parse(run.stdout);
    expect(schema.$schema).toMatch(/json-schema\.org/);
    expect(schema.properties.tasks.items.properties.loss.enum).toContain('cross_entropy');
  });

  it('init guesses each column\'s role and writes a config that trains', async () => {
    const run = await cli(['init', fixture, '--out', 'starter.json']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/Species\s+text with 3 distinct values \(Adelie, Chinstrap, Gentoo\) → task Species, cross_entropy/);
    expect(run.stdout).toMatch(/Sex\s+text with 2 distinct values \(FEMALE, MALE\), 11 missing → task Sex, bce_with_logits \(a guess: see the question below\)/);
    expect(run.stdout).toMatch(/^2 of 344 rows miss a feature value \(Beak Length \(mm\) 2, .*\): training will leave them out$/m);
    expect(run.stdout).toMatch(/Beak Length \(mm\)\s+numbers with \d+ distinct values, 2 missing → feature \(numeric/);
    const starter = readConfigFile(join(dir, 'starter.json'));
    expect(starter.tasks?.map((t) => t.column)).toEqual(['Species', 'Island', 'Sex']);
    expect(starter.data?.features).toEqual(['Beak Length (mm)', 'Beak Depth (mm)', 'Flipper Length (mm)', 'Body Mass (g)']);
    expectUserError(await cli(['init', fixture, '--out', 'starter.json']), /starter\.json: the file exists \(use --force/);
    const targeted = await cli(['init', fixture, '--out', 'targeted.json', '--targets', 'Species,Body Mass (g)']);
    expect(targeted.code, targeted.stderr).toBe(0);
    const t = readConfigFile(join(dir, 'targeted.json'));
    expect(t.tasks).toEqual([{ column: 'Species', loss: 'cross_entropy' }, { name: 'Body_Mass_g', column: 'Body Mass (g)', loss: 'mse' }]);
    const train = await cli(['train', '--config', 'targeted.json', '--epochs', '1', '--workers', '2', '--runs-dir', 'runs', '--quiet', '--no-report']);
    expect(train.code, train.stderr).toBe(0);
    expect(train.stdout).toMatch(/Body_Mass_g\s+rmse/);
  });
});

describe('config errors on the command line', () => {
  it('one line, exit 2, the file, path, value and what was expected', async () => {
    const bad = write('bad.json', { ...config, tasks: [config.tasks[0], { column: 'Sex', loss: 'crossentropy' }] });
    expectUserError(await cli(['train', '--config', bad]), /^multitask: .*bad\.json: tasks\[1\]\.loss: "crossentropy" is not one of cross_entropy, bce_with_logits, bce, mse, l1, smooth_l1/);
    expectUserError(await cli(['train', '--config', write('unknown.json', { epoch: 3 })]), /unknown\.json: unknown key "epoch" \(did you mean "epochs"\?\)/);
    expectUserError(await cli(['train', '--config', write('neg.json', { batchSize: -4 })]), /neg\.json: batchSize: -4 is not a positive integer/);
    expectUserError(await cli(['train', '--schedule', 'sawtooth']), /--schedule: "sawtooth" is not one of constant, step, cosine/);
    expectUserError(await cli(['compare', '--strategy', 'pcgrad']), /--strategy: compare runs the strategies of --strategies/);
  });

  it('a flag overrides the file: the run uses the flag\'s value', async () => {
    const run = await cli(['train', '--config', configPath, '--epochs', '1', '--strategy', 'sequential', '--name', 'override', '--no-report']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/strategy sequential \(fresh\)|strategy sequential fresh/);
    expect(run.stdout).toMatch(/epoch 1\/1/);
    const saved = JSON.parse(readFileSync(join(runs, 'override', 'config.json'), 'utf8'));
    expect(saved).toMatchObject({ epochs: 1, strategy: 'sequential', checkpointEvery: 20, data: { path: fixture } });
  });
});

describe('data formats from a config', () => {
  /** A little-endian .npy file. */
  const npy = (name: string, descr: '<f4' | '<f8', shape: number[], values: number[]) => writeNpy(join(dir, name), descr, shape, values);

  it('JSON Lines, .npy with target files, tasks with their own rows, synthetic data', async () => {
    const csv = readFileSync(fixture, 'utf8').trim().split('\n');
    const header = csv[0].split(',');
    const records = csv.slice(1).map((l) => Object.fromEntries(l.split(',').map((v, i) => [header[i], v === '' ? null : Number.isNaN(Number(v)) ? v : Number(v)])));
    write('penguins.jsonl', records.map((r) => JSON.stringify(r)).join('\n'));
    write('jsonl.json', { ...config, data: { path: 'penguins.jsonl' }, tasks: [{ name: 'species', column: 'Species', loss: 'cross_entropy' }], epochs: 2 });
    const n = 200;
    const x: number[] = [];
    const y0: number[] = [];
    const y1: number[] = [];
    for (let i = 0; i < n; i++) {
      const a = Math.sin(i), b = Math.cos(3 * i);
      x.push(a, b);
      y0.push(a + b > 0 ? 1 : 0);
      y1.push(2 * a - b);
    }
    npy('x.npy', '<f4', [n, 2], x);
    npy('y_cls.npy', '<f8', [n], y0);
    npy('y_reg.npy', '<f8', [n, 1], y1);
    write('npy.json', { data: { path: 'x.npy', featureNames: ['a', 'b'] }, tasks: [{ name: 'side', loss: 'bce_with_logits', targets: 'y_cls.npy', classes: ['left', 'right'] }, { name: 'value', loss: 'mse', targets: 'y_reg.npy' }], epochs: 2, workers: 2, runsDir: 'runs' });
    mkdirSync(join(dir, 'parts'), { recursive: true });
    writeFileSync(join(dir, 'parts/a.csv'), `${[csv[0], ...csv.slice(1, 180)].join('\n')}\n`);
    writeFileSync(join(dir, 'parts/b.csv'), `${[csv[0], ...csv.slice(180)].join('\n')}\n`);
    write('parts.json', { data: { path: 'parts/a.csv', features: ['Beak Length (mm)', 'Beak Depth (mm)', 'Flipper Length (mm)'] }, tasks: [{ name: 'species', column: 'Species', loss: 'cross_entropy' }, { name: 'mass', column: 'Body Mass (g)', loss: 'mse', path: 'parts/b.csv' }], epochs: 2, workers: 2, runsDir: 'runs' });
    write('synthetic.json', { data: { synthetic: { rows: 400, tasks: 2, correlation: -0.5, kinds: ['regression', 'classification'] } }, epochs: 2, workers: 2, runsDir: 'runs' });
    for (const [file, pattern] of [['jsonl.json', /penguins\.jsonl, \d+ training/], ['npy.json', /x\.npy, 160 training \/ 40 validation rows, tasks side, value/],
      ['parts.json', /a\.csv \+ .*b\.csv, \d+ training .* tasks species, mass/], ['synthetic.json', /synthetic.* tasks task_0, task_1/]] as const) {
      const run = await cli(['train', '--config', file, '--no-report']);
      expect(run.code, `${file}: ${run.stderr}`).toBe(0);
      expect(run.stdout).toMatch(pattern);
    }
    // .npy from flags: --task name=targets.npy:loss
    const flags = await cli(['train', '--data', 'x.npy', '--task', 'side=y_cls.npy:bce_with_logits', '--epochs', '1', '--workers', '2', '--runs-dir', 'runs', '--no-report', '--quiet']);
    expect(flags.code, flags.stderr).toBe(0);
    expect(flags.stdout).toMatch(/side\s+accuracy/);
  });

  it('a learning-rate schedule', async () => {
    const run = await cli(['train', '--epochs', '2', '--workers', '2', '--runs-dir', 'runs', '--name', 'cosine', '--schedule', 'cosine', '--warmup-steps', '3', '--no-report']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/lr schedule cosine \(warm-up 3 steps, to 0 over 18 steps\)/);
  });
});

describe('compare', () => {
  it('a strategy it does not know is an error before any run starts (exit 2, a "did you mean")', async () => {
    const run = await cli(['compare', '--epochs', '2', '--runs-dir', 'runs', '--name', 'cmp-typo', '--strategies', 'sum,pcgrd']);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toMatch(/^multitask: --strategies: "pcgrd" is not one of sum, sequential, .* \(did you mean "pcgrad"\?\)$/);
    expect(existsSync(join(runs, 'cmp-typo'))).toBe(false);
  });

  it('runs each strategy on the same data and budget and prints one table with Δm%', async () => {
    const run = await cli(['compare', '--epochs', '2', '--workers', '2', '--runs-dir', 'runs', '--name', 'cmp', '--strategies', 'sum,sequential:stale,pcgrad']);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.split('\n');
    const head = lines.findIndex((l) => l.startsWith('strategy'));
    expect(lines[head]).toMatch(/^strategy\s+species acc\s+sex acc\s+body_mass rmse\s+Δm%\s+time\s+steps\/s\s+conflicts$/);
    expect(lines[head + 1]).toMatch(/^sum\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+0\.0\s+\S+ s\s+[\d.]+\s+—$/);
    expect(lines[head + 2]).toMatch(/^sequential-stale\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[+−]?\d+\.\d\s+\S+ s\s+[\d.]+\s+\d+\.\d\d$/);
    expect(lines[head + 3]).toMatch(/^pcgrad\s/);
    const saved = JSON.parse(readFileSync(join(runs, 'cmp', 'compare.json'), 'utf8'));
    expect(saved.baseline).toBe('sum');
    expect(saved.runs.map((r: { label: string }) => r.label)).toEqual(['sum', 'sequential-stale', 'pcgrad']);
    expect(saved.runs[0].deltaM).toBe(0);
    // Δm% by hand from the table's own numbers
    const [b, s] = saved.runs;
    const hand = 100 * ((s.metrics.species - b.metrics.species) / b.metrics.species + (s.metrics.sex - b.metrics.sex) / b.metrics.sex
      - (s.metrics.body_mass - b.metrics.body_mass) / b.metrics.body_mass) / 3;
    expect(s.deltaM).toBeCloseTo(hand, 9);
    for (const label of ['sum', 'sequential-stale', 'pcgrad']) expect(existsSync(join(runs, 'cmp', label, 'summary.json'))).toBe(true);
    expect(existsSync(join(runs, 'cmp', 'report.html'))).toBe(true);
    // the report's Δm% and conflicts columns hold the console's figures, and its time is the console's (wall-clock) time
    const reportTable = () => {
      const html = readFileSync(join(runs, 'cmp', 'report.html'), 'utf8');
      const doc = JSON.parse(/<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html)![1]);
      const t = doc.sections[0].tables[0] as { columns: { label: string }[]; rows: (string | number | null)[][] };
      return (label: string) => t.rows.map((r) => r[t.columns.findIndex((c) => c.label === label)]);
    };
    const consoleColumn = (i: number) => lines.slice(head + 1, head + 4).map((l) => l.trim().split(/\s{2,}/)[i]);
    for (const column of [reportTable()]) {
      expect(column('Δm%')).toEqual(consoleColumn(4));
      expect(column('conflicts')).toEqual(consoleColumn(7));
      expect(column('time (s)')).toEqual(saved.runs.map((r: { wallSeconds: number }) => Number(r.wallSeconds.toPrecision(5))));
    }
    const report = await cli(['report', join(runs, 'cmp')]);
    expect(report.code, report.stderr).toBe(0);
    // written again from compare.json: the same figures
    expect(reportTable()('Δm%')).toEqual(consoleColumn(4));
    expect(reportTable()('time (s)')).toEqual(saved.runs.map((r: { wallSeconds: number }) => Number(r.wallSeconds.toPrecision(5))));
  });

  it('--json, on synthetic data with negatively correlated tasks', async () => {
    const run = await cli(['compare', '--config', 'synthetic.json', '--epochs', '1', '--runs-dir', 'runs', '--name', 'cmp-synthetic', '--strategies', 'sum,mgda', '--json', '--no-report']);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.type)).toEqual(['run', 'run', 'compare']);
    expect(lines[2].runs[0]).toMatchObject({ label: 'sum', deltaM: 0, meanConflicts: null });
    expect(lines[2].runs[1]).toMatchObject({ label: 'mgda', deltaM: expect.any(Number), meanConflicts: expect.any(Number) });
  });
});
