/**
 * `multitask eval`, `multitask predict` and `multitask export`: a trained
 * `Model` (src/model/model.ts) loaded from a run directory or a weights file;
 * forward passes on this thread, no worker pool.
 *
 * The weights file carries its preprocessing (feature encoding, classes,
 * target scaling). A file written before it did gets it from the data of the
 * run's config (or --config): the same data, seed and validation fraction
 * give the same split and the same standardization (legacy-model.ts). `eval`
 * reads the labelled rows from that data too.
 */
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import type { Dataset } from '../data/dataset.js';
import { readNpy } from '../data/npy.js';
import { loadTable } from '../data/load-table.js';
import { tableRows } from '../data/table.js';
import type { Cell } from '../model/cells.js';
import { rowLocation } from '../data/table.js';
import { METADATA_KEY, Model } from '../model/model.js';
import { ONNX_INPUT, onnxOutputs, toOnnx } from '../model/onnx.js';
import { preprocessingOf } from '../model/preprocessing.js';
import { readSafetensorsHeader } from '../model/safetensors.js';
import { RUN_FILES } from '../trainer/run-format.js';
import { listCheckpoints, loadLatestCheckpoint } from '../trainer/checkpoint.js';
import { CHECKPOINT_DIR, WEIGHTS_FILE } from '../trainer/run-dir.js';
import { Trainer } from '../trainer/trainer.js';
import { copyFileAtomic, writeFileAtomic } from '../util/atomic-file.js';
import { UserError } from '../util/errors.js';
import { isComparisonDirectory } from './compare.js';
import { readConfigFile } from './config.js';
import { configDataset, legacyPreprocessing, runDirConfig } from '../trainer/legacy-model.js';
import { checkOutputFile } from './out-file.js';
import { evalTable } from './metrics-table.js';
import type { Output } from './output.js';
import { setupFromConfig, type RunSetup } from './train.js';

export interface ModelSource {
  /** A run directory: its config.json, and its weights.safetensors unless `weights`. */
  run?: string;
  /** A config file (instead of a run directory). */
  config?: string;
  weights?: string;
  /** Unused: eval and predict start no worker threads (kept for the CLI flag). */
  workers?: number;
}

/** The config of a run directory or config file; the built-in defaults without either. */
function sourceSetup(s: ModelSource): RunSetup {
  if (s.run) return runDirConfig(s.run);
  return setupFromConfig(s.config ? readConfigFile(s.config) : {}, undefined);
}

export interface LoadedModel {
  model: Model;
  weights: string;
  /** The data of the run or config (loaded once, on first use). */
  dataset: () => Dataset;
}

/** The model of the given weights (a run's unless `weights`), on this thread. */
export function loadModel(s: ModelSource): LoadedModel {
  if (s.run && s.config) throw new UserError('give a run directory or --config, not both');
  if (s.run) checkRunDirectory(s.run);
  const weights = s.weights ?? (s.run ? join(s.run, WEIGHTS_FILE) : undefined);
  if (!weights) throw new UserError('--weights: which weights? (a .safetensors file, e.g. runs/<name>/weights.safetensors; or give the run directory)');
  if (!existsSync(weights)) {
    throw new UserError(`${weights}: no such file${s.run && !s.weights ? ' (the run has not finished; `multitask export` can write the newest checkpoint\'s weights)' : ''}`);
  }
  let data: Dataset | undefined;
  const dataset = () => (data ??= configDataset(sourceSetup(s)));
  // a file without its own preprocessing (older runs): from the run's or the config's data
  const model = Model.load(weights, { preprocessing: () => preprocessingOf(dataset()) });
  return { model, weights, dataset };
}

/** A path given as a run directory that is none: missing, a file, or a comparison of runs. */
function checkRunDirectory(run: string): void {
  if (!existsSync(run)) throw new UserError(`${run}: no such run directory`);
  if (!statSync(run).isDirectory()) throw new UserError(`${run}: a file, not a run directory (a weights file goes in --weights)`);
  if (isComparisonDirectory(run)) {
    const runs = readdirSync(run, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => join(run, d.name));
    throw new UserError(`${run}: a comparison, not a run; give one of its runs${runs.length > 0 ? `: ${runs.join(', ')}` : ' (it has none yet)'}`);
  }
  if (!existsSync(join(run, RUN_FILES.config))) throw new UserError(`${run}: not a run directory (no ${RUN_FILES.config})`);
}

export type Split = 'train' | 'validation' | 'all';

export async function evalCommand(s: ModelSource & { split: Split }, output: Output): Promise<number> {
  const { model, weights, dataset } = loadModel(s);
  const ds = dataset();
  const reports = model.evaluate({ dataset: ds, split: s.split });
  output.json({ type: 'eval', split: s.split, weights, source: ds.source, tasks: reports });
  output.info(`multitask: ${weights} on the ${s.split === 'all' ? 'whole data set' : `${s.split} split`} of ${ds.source}`);
  output.result(evalTable(reports, output));
  return 0;
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
  /** where row r came from, for messages: `in.csv line 7` */
  locate: (r: number) => string;
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
    return { source: path, columns: [...featureNames], rows, locate: (r) => `${path} row ${r + 1}` };
  }
  const t = loadTable(path);
  return { source: path, columns: t.columns, rows: tableRows(t), locate: (r) => rowLocation(t, r) };
}

/**
 * `multitask predict`: the input rows with one prediction column per task
 * (`pred_<task>`: class names, or values in the target's units) and, with
 * `probabilities`, `prob_<task>_<class>` columns. Rows missing a feature get
 * empty predictions.
 */
export async function predictCommand(s: ModelSource & { input: string; out?: string; probabilities?: boolean; force?: boolean }, output: Output): Promise<number> {
  const toFile = s.out !== undefined && s.out !== '-';
  if (toFile) checkOutputFile(s.out!, '--out', { force: s.force, inputs: [s.input, s.weights, s.config, s.run && join(s.run, WEIGHTS_FILE)] });
  const { model } = loadModel(s);
  const featureColumns = model.featureColumns;
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
  // messages name the input's own line of a bad value, not its place among the complete rows
  const predictions = model.predict(records, { probabilities: s.probabilities, source: { name: input.source, locate: (k) => input.locate(complete[k]) } });
  const header = [...input.columns];
  const taskColumns: ((k: number) => Cell[])[] = [];
  for (const task of model.spec.tasks) {
    const p = predictions[task.name];
    header.push(`pred_${task.name}`);
    if (p.classNames) {
      const classes = p.classNames;
      const probs = p.probabilities;
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
  if (toFile) {
    mkdirSync(dirname(resolve(s.out!)), { recursive: true });
    writeFileAtomic(s.out!, text);
    output.info(`multitask: ${complete.length} predictions written to ${s.out}${skipped ? `; ${skipped} rows miss a feature and have none` : ''}`);
  } else {
    process.stdout.write(text);
    if (skipped) output.warn(`${skipped} rows miss a feature and have no prediction`);
  }
  output.json({ type: 'predict', rows: input.rows.length, predicted: complete.length, out: s.out ?? null });
  return 0;
}

// ---------------------------------------------------------------------------
// export

export type ExportFormat = 'safetensors' | 'onnx';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['safetensors', 'onnx'];

/** The format to write: --format, else from --out's extension (.onnx → onnx, else safetensors); the two must agree. */
export function exportFormat(out: string, format?: ExportFormat): ExportFormat {
  const ext = extname(out).toLowerCase();
  const implied = ext === '.onnx' ? 'onnx' : ext === '.safetensors' ? 'safetensors' : undefined;
  if (format && implied && format !== implied) {
    throw new UserError(`--out ${out}: a ${ext} file, but --format is ${format} (name it ${basename(out, extname(out))}.${format}, or give --format ${implied})`);
  }
  return format ?? implied ?? 'safetensors';
}

export interface ExportOptions {
  run: string;
  out: string;
  format?: ExportFormat;
  force?: boolean;
  /** ONNX: the producer version written into the file (multitask's version). */
  producerVersion?: string;
}

/** Writes a model as ONNX and says what the file takes and gives. */
function writeOnnx(model: Model, from: string, s: ExportOptions, output: Output): void {
  writeFileAtomic(s.out, toOnnx(model, { producerVersion: s.producerVersion }));
  const outputs = onnxOutputs(model).map((o) => o.name);
  output.info(`multitask: ${from} written to ${s.out} as ONNX: input "${ONNX_INPUT}" [N, ${model.spec.inputWidth}] (raw numeric values and one-hot columns, in the order of the metadata's "inputs"); outputs ${outputs.join(', ')}`);
  output.json({ type: 'export', format: 'onnx', from, out: s.out, input: ONNX_INPUT, inputs: model.preprocessing.features.names, outputs });
}

/**
 * `multitask export runs/<name> --out model.safetensors`: the run's final
 * weights, or (a stopped run) its newest checkpoint's, as safetensors with
 * PyTorch names and layouts and the preprocessing metadata (see Model; a
 * final weights file written before it carried that metadata gets it from
 * the run's config); or, with `--format onnx` (or an .onnx --out), the model
 * as an ONNX graph (src/model/onnx.ts).
 */
export async function exportCommand(s: ExportOptions, output: Output): Promise<number> {
  const format = exportFormat(s.out, s.format);
  const weights = join(s.run, WEIGHTS_FILE);
  checkOutputFile(s.out, '--out', { force: s.force, inputs: [weights, join(s.run, RUN_FILES.config), ...listCheckpoints(join(s.run, CHECKPOINT_DIR))] });
  mkdirSync(dirname(resolve(s.out)), { recursive: true });
  if (existsSync(weights)) {
    const header = readSafetensorsHeader(weights); // checks the file before handing it on
    if (format === 'onnx') writeOnnx(Model.load(weights, { preprocessing: legacyPreprocessing }), weights, s, output);
    else {
      if (header.metadata[METADATA_KEY] !== undefined) copyFileAtomic(weights, s.out);
      else Model.load(weights, { preprocessing: legacyPreprocessing }).save(s.out, { ...header.metadata });
      output.info(`multitask: ${header.tensors.size} tensors from ${weights} written to ${s.out}`);
      output.json({ type: 'export', from: weights, out: s.out, tensors: [...header.tensors.keys()] });
    }
    return 0;
  }
  const checkpoint = existsSync(join(s.run, RUN_FILES.config)) ? loadLatestCheckpoint(join(s.run, CHECKPOINT_DIR)) : undefined;
  if (!checkpoint) throw new UserError(`${s.run}: no ${WEIGHTS_FILE} and no checkpoint to export (is it a run directory?)`);
  for (const k of checkpoint.skipped) output.warn(`skipped checkpoint ${k.path} (${k.reason})`);
  // the model spec comes from the run's config through a Trainer (one worker thread)
  const setup = runDirConfig(s.run);
  const trainer = await Trainer.create({ ...setup.config, initWeights: undefined, workers: 1 }, { source: setup.source });
  try {
    trainer.restore(checkpoint.data, checkpoint.path);
    if (format === 'onnx') {
      output.info(`multitask: the run has no final weights; exporting checkpoint ${checkpoint.path} (step ${checkpoint.data.step})`);
      writeOnnx(trainer.model(), checkpoint.path, s, output);
      return 0;
    }
    trainer.model().save(s.out, { step: String(checkpoint.data.step), epoch: String(checkpoint.data.epoch) });
    output.info(`multitask: the run has no final weights; wrote checkpoint ${checkpoint.path} (step ${checkpoint.data.step}) to ${s.out}`);
    output.json({ type: 'export', from: checkpoint.path, out: s.out, tensors: Object.keys(trainer.params.named()) });
    return 0;
  } finally {
    await trainer.close();
  }
}
