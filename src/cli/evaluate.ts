/**
 * `multitask eval`, `multitask predict` and `multitask export`: a trained model
 * rebuilt from a run directory (or a config) and its safetensors weights.
 *
 * The model is rebuilt from the same config as in training: the same data,
 * seed and validation fraction give the same split and the same feature
 * standardization (fitted on the training rows), so the weights see inputs
 * encoded exactly as they were trained on.
 */
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { gatherRows } from '../model/network.js';
import { loadParametersFile, readSafetensors, saveParameters } from '../model/safetensors.js';
import { readNpy } from '../data/npy.js';
import { loadTable, type Cell } from '../data/table.js';
import { RUN_FILES } from '../report/run-format.js';
import { loadLatestCheckpoint } from '../trainer/checkpoint.js';
import { CHECKPOINT_DIR, RunDirectory, WEIGHTS_FILE } from '../trainer/run-dir.js';
import { Trainer } from '../trainer/trainer.js';
import { UserError } from '../util/errors.js';
import { readConfigFile } from './config.js';
import { num, table } from './format.js';
import { classProbabilities, taskReport, type TaskReport } from './metrics.js';
import type { Output } from './output.js';
import { setupFromConfig, setupFromRun, type RunSetup } from './train.js';

export interface ModelSource {
  /** A run directory: its config.json, and its weights.safetensors unless `weights`. */
  run?: string;
  /** A config file (instead of a run directory). */
  config?: string;
  weights?: string;
  workers?: number;
}

/** The config of a run directory or config file; the built-in defaults without either. */
function sourceSetup(s: ModelSource): RunSetup {
  if (s.run && s.config) throw new UserError('give a run directory or --config, not both');
  if (s.run) {
    const opened = RunDirectory.open(s.run);
    return setupFromRun(opened.config, join(resolve(s.run), RUN_FILES.config), s.workers ?? 1);
  }
  return setupFromConfig(s.config ? readConfigFile(s.config) : {}, s.workers ?? 1);
}

/** A Trainer with the given weights loaded (one worker thread; it only runs forward passes here). */
export async function loadModel(s: ModelSource): Promise<{ trainer: Trainer; weights: string }> {
  const weights = s.weights ?? (s.run ? join(s.run, WEIGHTS_FILE) : undefined);
  if (!weights) throw new UserError('--weights: which weights? (a .safetensors file, e.g. runs/<name>/weights.safetensors; or give the run directory)');
  if (!existsSync(weights)) {
    throw new UserError(`${weights}: no such file${s.run && !s.weights ? ' (the run has not finished; `multitask export` can write the newest checkpoint\'s weights)' : ''}`);
  }
  const setup = sourceSetup(s);
  // the weights below replace any initial weights: they need not be read
  const trainer = await Trainer.create({ ...setup.config, initWeights: undefined, workers: 1 }, { source: setup.source });
  try {
    loadParametersFile(weights, trainer.params);
  } catch (e) {
    await trainer.close();
    throw e;
  }
  return { trainer, weights };
}

export type Split = 'train' | 'validation' | 'all';

/** Each task's metrics over a split: predictions from the model vs the dataset's targets (target units). */
export function evaluateSplit(trainer: Trainer, split: Split): Record<string, TaskReport> {
  const ds = trainer.dataset;
  const rows = split === 'train' ? ds.train : split === 'validation' ? ds.validation
    : Int32Array.from({ length: ds.rows }, (_, i) => i);
  const x = new Float32Array(rows.length * ds.inputWidth);
  gatherRows(ds.inputWidth, ds.features, rows, 0, rows.length, x);
  const predictions = trainer.predict(x);
  const out: Record<string, TaskReport> = {};
  for (const task of ds.tasks) {
    const p = predictions[task.name];
    const targets = new Float64Array(rows.length);
    for (let k = 0; k < rows.length; k++) {
      const y = task.targets[rows[k]];
      // regression targets are stored standardized; predictions come in target units
      targets[k] = task.targetStd === undefined || Number.isNaN(y) ? y : y * task.targetStd + (task.targetMean ?? 0);
    }
    out[task.name] = taskReport(task.loss, p.outputs, p.width, targets);
  }
  return out;
}

/** The eval table: one row per task, classification and regression columns. */
export function evalTable(reports: Record<string, TaskReport>, output: Output): string {
  const rows = [['task', 'rows', 'accuracy', 'F1', 'AUC', 'RMSE', 'MAE', 'R²']];
  for (const [name, r] of Object.entries(reports)) {
    rows.push(r.kind === 'classification'
      ? [name, String(r.count), num(r.accuracy), num(r.f1), num(r.auc), '—', '—', '—']
      : [name, String(r.count), '—', '—', '—', num(r.rmse), num(r.mae), num(r.r2)]);
  }
  return table(rows, output.style, [1, 2, 3, 4, 5, 6, 7]);
}

export async function evalCommand(s: ModelSource & { split: Split }, output: Output): Promise<number> {
  const { trainer, weights } = await loadModel(s);
  try {
    const reports = evaluateSplit(trainer, s.split);
    output.json({ type: 'eval', split: s.split, weights, source: trainer.dataset.source, tasks: reports });
    output.info(`multitask: ${weights} on the ${s.split === 'all' ? 'whole data set' : `${s.split} split`} of ${trainer.dataset.source}`);
    output.result(evalTable(reports, output));
    return 0;
  } finally {
    await trainer.close();
  }
}

// ---------------------------------------------------------------------------
// predict

/** A CSV field: quoted when it holds a comma, quote, line break or outer spaces. */
export function csvField(v: Cell | undefined): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'number' ? String(v) : v;
  return /[",\r\n]|^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** A float32 output with the digits float32 carries. */
const f32 = (x: number) => (Number.isFinite(x) ? Number(x.toPrecision(7)) : null);

interface InputRows {
  source: string;
  columns: string[];
  rows: Cell[][];
}

function readInput(path: string, featureNames: readonly string[]): InputRows {
  if (extname(path).toLowerCase() === '.npy') {
    const a = readNpy(path);
    if (a.shape.length !== 2) throw new UserError(`${path}: features must be a 2-D array (rows × inputs), got shape (${a.shape.join(', ')})`);
    const [n, width] = a.shape;
    if (width !== featureNames.length) {
      throw new UserError(`${path}: ${width} columns, the model takes ${featureNames.length} (${featureNames.join(', ')})`);
    }
    const rows = Array.from({ length: n }, (_, r) => Array.from(a.data.subarray(r * width, (r + 1) * width), (v) => (Number.isNaN(v) ? null : v)));
    return { source: path, columns: [...featureNames], rows };
  }
  const t = loadTable(path);
  return { source: path, columns: t.columns, rows: t.rows };
}

/**
 * `multitask predict`: the input rows with one prediction column per task
 * (`pred_<task>`: class names, or values in the target's units) and, with
 * `probabilities`, `prob_<task>_<class>` columns. Rows missing a feature get
 * empty predictions.
 */
export async function predictCommand(s: ModelSource & { input: string; out?: string; probabilities?: boolean }, output: Output): Promise<number> {
  const { trainer } = await loadModel(s);
  try {
    const encoding = trainer.dataset.encoding;
    const featureColumns = encoding.columns.map((c) => c.name);
    const input = readInput(s.input, featureColumns);
    const index = featureColumns.map((name) => input.columns.indexOf(name));
    const absent = featureColumns.filter((_, f) => index[f] < 0);
    if (absent.length > 0) {
      throw new UserError(`${input.source}: no column ${absent.map((c) => JSON.stringify(c)).join(', ')}; the model needs ${featureColumns.map((c) => JSON.stringify(c)).join(', ')}`);
    }
    const complete: number[] = [];
    const records: Record<string, unknown>[] = [];
    input.rows.forEach((row, r) => {
      if (index.some((c) => row[c] === null)) return;
      complete.push(r);
      records.push(Object.fromEntries(featureColumns.map((name, f) => [name, row[index[f]]])));
    });
    const predictions = trainer.predict(records);
    const header = [...input.columns];
    const taskColumns: ((k: number) => Cell[])[] = [];
    for (const task of trainer.dataset.tasks) {
      const p = predictions[task.name];
      header.push(`pred_${task.name}`);
      if (task.classes) {
        const classes = task.classes;
        const probs = s.probabilities ? classProbabilities(task.loss, p.outputs, p.width) : undefined;
        if (probs) for (const c of classes) header.push(`prob_${task.name}_${c}`);
        taskColumns.push((k) => [p.classes![k], ...(probs ? classes.map((_, c) => f32(probs[k * classes.length + c])) : [])]);
      } else {
        taskColumns.push((k) => [f32(p.outputs[k])]);
      }
    }
    const width = header.length - input.columns.length;
    const position = new Map(complete.map((r, k) => [r, k]));
    const lines = [header.map(csvField).join(',')];
    input.rows.forEach((row, r) => {
      const k = position.get(r);
      const extra = k === undefined ? new Array<Cell>(width).fill(null) : taskColumns.flatMap((col) => col(k));
      lines.push([...row, ...extra].map(csvField).join(','));
    });
    const text = `${lines.join('\n')}\n`;
    const skipped = input.rows.length - complete.length;
    if (s.out && s.out !== '-') {
      mkdirSync(dirname(resolve(s.out)), { recursive: true });
      writeFileSync(s.out, text);
      output.info(`multitask: ${complete.length} predictions written to ${s.out}${skipped ? `; ${skipped} rows miss a feature and have none` : ''}`);
    } else {
      process.stdout.write(text);
      if (skipped) output.warn(`${skipped} rows miss a feature and have no prediction`);
    }
    output.json({ type: 'predict', rows: input.rows.length, predicted: complete.length, out: s.out ?? null });
    return 0;
  } finally {
    await trainer.close();
  }
}

// ---------------------------------------------------------------------------
// export

/**
 * `multitask export runs/<name> --out model.safetensors`: the run's final
 * weights, or (a stopped run) its newest checkpoint's, as safetensors with
 * PyTorch names and layouts.
 */
export async function exportCommand(s: { run: string; out: string }, output: Output): Promise<number> {
  const weights = join(s.run, WEIGHTS_FILE);
  mkdirSync(dirname(resolve(s.out)), { recursive: true });
  if (existsSync(weights)) {
    const file = readSafetensors(weights); // checks the file before handing it on
    copyFileSync(weights, s.out);
    output.info(`multitask: ${file.tensors.size} tensors from ${weights} written to ${s.out}`);
    output.json({ type: 'export', from: weights, out: s.out, tensors: [...file.tensors.keys()] });
    return 0;
  }
  const checkpoint = existsSync(join(s.run, RUN_FILES.config)) ? loadLatestCheckpoint(join(s.run, CHECKPOINT_DIR)) : undefined;
  if (!checkpoint) throw new UserError(`${s.run}: no ${WEIGHTS_FILE} and no checkpoint to export (is it a run directory?)`);
  const opened = RunDirectory.open(s.run);
  const setup = setupFromRun(opened.config, join(resolve(s.run), RUN_FILES.config), 1);
  const trainer = await Trainer.create({ ...setup.config, initWeights: undefined, workers: 1 }, { source: setup.source });
  try {
    trainer.restore(checkpoint.data, checkpoint.path);
    saveParameters(s.out, trainer.params, { step: String(checkpoint.data.step), epoch: String(checkpoint.data.epoch) });
    output.info(`multitask: the run has no final weights; wrote checkpoint ${checkpoint.path} (step ${checkpoint.data.step}) to ${s.out}`);
    output.json({ type: 'export', from: checkpoint.path, out: s.out, tensors: Object.keys(trainer.params.named()) });
    return 0;
  } finally {
    await trainer.close();
  }
}
