import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadTable } from '../../src/data/load-table.js';
import { tableRows } from '../../src/data/table.js';
import { Model } from '../../src/model/model.js';
import { expectUserError, penguinsFixture, penguinsTasks, runCli } from '../helpers/cli.js';
import { onnxInput, onnxMetadata, runOnnx, worstError } from '../helpers/onnx.js';

const fixture = penguinsFixture;
const dir = mkdtempSync(join(tmpdir(), 'multitask-onnx-'));
const runDir = join(dir, 'runs', 'penguins');
const cli = (args: string[]) => runCli(args, { cwd: dir });

/** The penguins fixture: two classifications and a regression; a gelu trunk layer and a tanh hidden head layer. */
const config = {
  ...penguinsTasks,
  model: { trunk: [16, { units: 8, activation: 'gelu' }], heads: { species: { hidden: { units: 8, activation: 'tanh' } } } },
  epochs: 3,
  workers: 1,
  runsDir: 'runs',
};

/** The fixture's rows as column → cell records, and `multitask predict`'s CSV the same way. */
const records = (path: string) => {
  const t = loadTable(path);
  return tableRows(t).map((row) => Object.fromEntries(t.columns.map((c, i) => [c, row[i]])));
};

describe('multitask export --format onnx', () => {
  beforeAll(async () => {
    writeFileSync(join(dir, 'run.json'), JSON.stringify(config));
    const train = await cli(['train', '--config', 'run.json', '--name', 'penguins', '--quiet', '--no-report']);
    expect(train.code, train.stderr).toBe(0);
  }, 120_000);

  it('writes a model that onnxruntime runs, giving multitask predict\'s values to 1e-5', async () => {
    const predict = await cli(['predict', runDir, '--input', fixture, '--out', 'predictions.csv', '--probabilities']);
    expect(predict.code, predict.stderr).toBe(0);
    const exported = await cli(['export', runDir, '--format', 'onnx', '--out', 'model.onnx']);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toMatch(/written to model\.onnx as ONNX: input "features" \[N, 6\] .*; outputs species\.logits, species\.probabilities, sex\.logits, sex\.probabilities, mass$/m);

    const bytes = new Uint8Array(readFileSync(join(dir, 'model.onnx')));
    const meta = onnxMetadata(bytes);
    expect(JSON.parse(meta.inputs)).toEqual(['Island=Biscoe', 'Island=Dream', 'Island=Torgersen', 'Beak Length (mm)', 'Beak Depth (mm)', 'Flipper Length (mm)']);
    // predict's rows with a prediction are those with every feature
    const predicted = records(join(dir, 'predictions.csv')).filter((r) => r.pred_species !== null);
    expect(predicted.length).toBe(342);
    const out = await runOnnx(bytes, onnxInput(meta, predicted), 6);
    const column = (name: string) => predicted.map((r) => Number(r[name]));
    const classes = { species: ['Adelie', 'Chinstrap', 'Gentoo'], sex: ['FEMALE', 'MALE'] };
    for (const [task, names] of Object.entries(classes)) {
      const probs = predicted.flatMap((r) => names.map((c) => Number(r[`prob_${task}_${c}`])));
      expect(worstError(out[`${task}.probabilities`], probs), task).toBeLessThanOrEqual(1e-5);
      // the class predict names is the most probable one
      predicted.forEach((r, k) => {
        const p = Array.from(out[`${task}.probabilities`].subarray(k * names.length, (k + 1) * names.length));
        expect(names[p.indexOf(Math.max(...p))]).toBe(r[`pred_${task}`]);
      });
    }
    expect(worstError(out.mass, column('pred_mass'))).toBeLessThanOrEqual(1e-5);
    expect(Math.min(...out.mass)).toBeGreaterThan(1000); // grams, not standardized units
    // logits: the raw outputs of the same model through the API
    const p = Model.load(runDir).predict(predicted.map((r) => Object.fromEntries(config.data.features.map((f) => [f, r[f]]))));
    expect(worstError(out['species.logits'], p.species.outputs)).toBeLessThanOrEqual(1e-5);
    expect(worstError(out['sex.logits'], p.sex.outputs)).toBeLessThanOrEqual(1e-5);
  });

  it('exports a stopped run\'s newest checkpoint, and takes the format from an .onnx --out', async () => {
    const stopped = join(dir, 'runs', 'stopped');
    cpSync(runDir, stopped, { recursive: true });
    rmSync(join(stopped, 'weights.safetensors'));
    const onnx = await cli(['export', stopped, '--out', 'checkpoint.onnx']);
    expect(onnx.code, onnx.stderr).toBe(0);
    expect(onnx.stdout).toMatch(/no final weights; exporting checkpoint .*\n.*written to checkpoint\.onnx as ONNX/);
    const safetensors = await cli(['export', stopped, '--out', 'checkpoint.safetensors']);
    expect(safetensors.code, safetensors.stderr).toBe(0);
    const bytes = new Uint8Array(readFileSync(join(dir, 'checkpoint.onnx')));
    const recs = records(fixture).filter((r) => config.data.features.every((f) => r[f] !== null)).slice(0, 50);
    const out = await runOnnx(bytes, onnxInput(onnxMetadata(bytes), recs), 6);
    const p = Model.load(join(dir, 'checkpoint.safetensors')).predict(recs, { probabilities: true });
    expect(worstError(out['species.probabilities'], p.species.probabilities!)).toBeLessThanOrEqual(1e-5);
    expect(worstError(out.mass, p.mass.outputs)).toBeLessThanOrEqual(1e-5);
  });

  it('exports a trained ple model (2 levels) that onnxruntime runs as Model.predict does', async () => {
    const ple = { ...config, model: { architecture: 'ple', levels: 2, experts: 2, taskExperts: 1, expert: [8], tower: [4] }, epochs: 2 };
    writeFileSync(join(dir, 'ple.json'), JSON.stringify(ple));
    const train = await cli(['train', '--config', 'ple.json', '--name', 'ple', '--quiet', '--no-report']);
    expect(train.code, train.stderr).toBe(0);
    const exported = await cli(['export', join(dir, 'runs', 'ple'), '--out', 'ple.onnx']);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toMatch(/written to ple\.onnx as ONNX: .*; outputs species\.logits, species\.probabilities, sex\.logits, sex\.probabilities, mass$/m);
    const bytes = new Uint8Array(readFileSync(join(dir, 'ple.onnx')));
    const recs = records(fixture).filter((r) => config.data.features.every((f) => r[f] !== null));
    const out = await runOnnx(bytes, onnxInput(onnxMetadata(bytes), recs), 6);
    const model = Model.load(join(dir, 'runs', 'ple'));
    expect(model.spec.mixture?.architecture).toBe('ple');
    const p = model.predict(recs, { probabilities: true });
    expect(worstError(out['species.probabilities'], p.species.probabilities!)).toBeLessThanOrEqual(1e-5);
    expect(worstError(out['sex.logits'], p.sex.outputs)).toBeLessThanOrEqual(1e-5);
    expect(worstError(out.mass, p.mass.outputs)).toBeLessThanOrEqual(1e-5);
    expect(Math.min(...out.mass)).toBeGreaterThan(1000);
  }, 120_000);

  it('a bad --format, or one that contradicts --out, is a usage error', async () => {
    expectUserError(await cli(['export', runDir, '--format', 'onx', '--out', 'x.onnx']), /^multitask: --format: "onx" is not one of safetensors, onnx \(did you mean "onnx"\?\)$/);
    expectUserError(await cli(['export', runDir, '--format', 'safetensors', '--out', 'x.onnx']),
      /^multitask: --out x\.onnx: a \.onnx file, but --format is safetensors \(name it x\.safetensors, or give --format onnx\)$/);
    // the default stays safetensors for any other name
    const plain = await cli(['export', runDir, '--out', 'weights.bin']);
    expect(plain.code, plain.stderr).toBe(0);
    expect(readFileSync(join(dir, 'weights.bin')).equals(readFileSync(join(runDir, 'weights.safetensors')))).toBe(true);
  });
});
