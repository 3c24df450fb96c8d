import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadTable } from '../../src/data/load-table.js';
import { tableRows } from '../../src/data/table.js';
import { Model } from '../../src/model/model.js';
import { onnxMetadata, runOnnx } from '../helpers/onnx.js';

const bin = new URL('../../bin/multitask.js', import.meta.url).pathname;
const fixture = new URL('./fixtures/penguins.csv', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'multitask-onnx-'));
const runDir = join(dir, 'runs', 'penguins');

interface Run { code: number; stdout: string; stderr: string }

function cli(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { timeout: 120_000, cwd: dir }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

function expectUserError(run: Run, pattern: RegExp): void {
  expect(run.code, run.stdout + run.stderr).toBe(2);
  const lines = run.stderr.trim().split('\n');
  expect(lines.at(-1)).toMatch(pattern);
  expect(run.stderr).not.toMatch(/\n\s+at /);
}

/** The penguins fixture: two classifications and a regression; a gelu trunk layer and a tanh hidden head layer. */
const config = {
  data: { path: fixture, features: ['Island', 'Beak Length (mm)', 'Beak Depth (mm)', 'Flipper Length (mm)'] },
  tasks: [
    { name: 'species', column: 'Species', loss: 'cross_entropy' },
    { name: 'sex', column: 'Sex', loss: 'bce_with_logits' },
    { name: 'mass', column: 'Body Mass (g)', loss: 'mse' },
  ],
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

/** |a − e| ≤ 1e-5 · max(1, |e|): the 1e-5, relative for values above 1 (grams). */
function worstError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / Math.max(1, Math.abs(expected[i])));
  return worst;
}

/** The ONNX input of records, built from the file's metadata: raw numeric values, one-hot levels. */
function onnxInput(meta: Record<string, string>, recs: Record<string, unknown>[]): Float32Array {
  const features = JSON.parse(meta.features) as { name: string; kind: string; levels?: string[] }[];
  return Float32Array.from(recs.flatMap((r) => features.flatMap((f) => (f.kind === 'numeric' ? [Number(r[f.name])] : f.levels!.map((l) => (r[f.name] === l ? 1 : 0))))));
}

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
