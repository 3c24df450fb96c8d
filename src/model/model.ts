/*
 * src/model/: the model — its spec, parameter layout and PyTorch names, the
 * parameter store, forward/backward passes, safetensors, preprocessing, metrics,
 * and `Model` (this file): a trained model that loads and predicts on its own.
 * May import: util, kernels.
 */
/**
 * `Model`: a trained model apart from the trainer — its spec, its parameters
 * and its preprocessing. It loads from a weights file (or a run directory),
 * predicts on raw records or encoded rows, evaluates, and saves; forward
 * passes run on the calling thread with the kernels (no worker threads).
 *
 * ## The weights file (safetensors)
 *
 * Every parameter under its PyTorch name and layout (layout.ts), float32. The
 * header's `__metadata__` (string values) holds:
 *
 * - `format`: `"pt"`.
 * - `multitask.model`: the model spec as JSON (also in `multitask`; kept for
 *   readers of files written before format 1).
 * - `multitask`: JSON, versioned by its `format` (MODEL_FORMAT, now 1):
 *
 *   ```
 *   { "format": 1,
 *     "features": [{ "name": "Island", "kind": "categorical", "levels": ["Biscoe", "Dream", "Torgersen"] },
 *                  { "name": "Beak Length (mm)", "kind": "numeric" }, ...],   // raw columns, in input order
 *     "inputs": ["Island=Biscoe", "Island=Dream", "Island=Torgersen", "Beak Length (mm)", ...],
 *     "mean": [0, 0, 0, 43.9, ...], "std": [1, 1, 1, 5.46, ...],             // per input, float32 values
 *     "tasks": [{ "name": "species", "column": "Species", "loss": "cross_entropy", "outputs": 3,
 *                 "classes": ["Adelie", "Chinstrap", "Gentoo"] },
 *               { "name": "mass", "column": "Body Mass (g)", "loss": "mse", "outputs": 1,
 *                 "targetMean": 4201.7, "targetStd": 801.9 }, ...],
 *     "model": { "inputWidth": 6, "trunk": [{ "units": 64, "activation": "relu" }, ...],
 *                "tasks": [{ "name": "species", "loss": "cross_entropy", "outputs": 3, "weight": 1,
 *                            "hidden": { "units": 16, "activation": "gelu" },
 *                            "classWeights": [1.2, 0.6, 1.4] }, ...] } }   // classWeights: only when set
 *   ```
 *
 *   A record becomes one input row, feature by feature in `features` order: a
 *   numeric value v gives one input (v − mean[i]) / std[i]; a categorical
 *   value gives one input per level, 1 at its level and 0 elsewhere (mean 0,
 *   std 1). Outputs: cross_entropy heads give one logit per class (softmax →
 *   probabilities, `classes` order); bce_with_logits one logit (sigmoid →
 *   p(classes[1])); bce one probability (the head ends in a sigmoid);
 *   regression heads give (y − targetMean) / targetStd.
 * - Whatever else the writer adds (`strategy`, `epochs`, `step`).
 *
 * A file without `multitask` (written before format 1) still loads when its
 * preprocessing can be rebuilt: `LoadOptions.preprocessing`, or the run
 * directory's config through `Model.legacyPreprocessing` (set by the package
 * entry, src/index.ts: rebuilding needs the data loaders, which model/ may not
 * import).
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { getKernels } from '../kernels/index.js';
import { LOSS_KINDS, type Kernels } from '../kernels/types.js';
import { UserError } from '../util/errors.js';
import { parseNumber, showCell, valueCell } from './cells.js';
import { buildLayout, type ParameterLayout } from './layout.js';
import { classProbabilities, taskReport, type TaskReport } from './metrics.js';
import { forwardHead, forwardTrunk, Workspace } from './network.js';
import { viewTensors, type ModelTensors } from './parameters.js';
import {
  encodeRecords, encodingFromJSON, encodingToJSON, type FeatureColumn, type FeatureEncoding, type Preprocessing, type RecordSource, type TaskPreprocessing,
} from './preprocessing.js';
import { checkAgainstLayout, readSafetensors, saveParameters } from './safetensors.js';
import { validateModelSpec, type ModelSpec } from './spec.js';

/** Version of the `multitask` metadata this code writes (and the newest it reads). */
export const MODEL_FORMAT = 1;
/** The metadata key holding the preprocessing and the spec. */
export const METADATA_KEY = 'multitask';
/** A run directory's weights file (trainer/run-dir.ts's WEIGHTS_FILE; model/ cannot import trainer/). */
const RUN_WEIGHTS = 'weights.safetensors';
/** Rows one forward pass handles at once. */
const CHUNK_ROWS = 256;

/** One task's predictions. */
export interface Prediction {
  /** rows × width: regression in the target's units; classification the head's raw outputs (logits; bce: probabilities). */
  outputs: Float32Array;
  width: number;
  /** Classification: the predicted class name of each row. */
  classes?: string[];
  /** Classification with `probabilities: true`: rows × classes (softmax; binary: [1 − p, p]), in `classNames` order. */
  probabilities?: Float64Array;
  /** Classification: the class names, label index order. */
  classNames?: string[];
}

export interface PredictOptions {
  /** Also return each classification task's class probabilities. */
  probabilities?: boolean;
  /** Records: what messages name them by (default `input record <n>`), e.g. a file and each record's line. */
  source?: RecordSource;
}

export interface LoadOptions {
  /**
   * The preprocessing of a weights file without `multitask` metadata (written
   * before format 1): given, or rebuilt from the run directory (the directory
   * given, or the one holding the file). Ignored when the file has its own.
   */
  preprocessing?: Preprocessing | ((runDir: string) => Preprocessing);
}

/** A dataset with its labels, as the library's Dataset (data/dataset.ts) has them. */
export interface LabelledDataset {
  rows: number;
  inputWidth: number;
  /** rows × inputWidth, encoded (standardized) with `encoding`. */
  features: Float32Array;
  encoding: FeatureEncoding;
  /** Per task: its targets (class indices; regression standardized with targetMean/targetStd), NaN = unlabelled. */
  tasks: readonly (TaskPreprocessing & { targets: Float32Array })[];
  train: Int32Array;
  validation: Int32Array;
}

/**
 * What `evaluate` takes:
 * - raw records holding the feature columns and each task's label column
 *   (`TaskPreprocessing.column`; a missing label leaves the row out of that
 *   task's metrics), encoded like predict's input;
 * - or the library's Dataset (e.g. `loadCsvDataset`, `trainer.dataset`) and a
 *   split (default validation); it must be encoded like the model's training
 *   data (the same data, seed and validation fraction).
 */
export type EvaluationData =
  | Record<string, unknown>[]
  | { dataset: LabelledDataset; split?: 'train' | 'validation' | 'all' };

export class Model {
  /**
   * Rebuilds the preprocessing of a pre-format-1 weights file from its run
   * directory (see the file comment). Set by src/index.ts and the CLI.
   */
  static legacyPreprocessing: ((runDir: string) => Preprocessing) | undefined;

  readonly layout: ParameterLayout;
  private readonly tensors: ModelTensors;
  private readonly kernels: Kernels;
  private workspace: Workspace | undefined;

  /**
   * @param data every parameter, flat, in layout order (PyTorch names: `named()`); the model keeps it
   */
  constructor(readonly spec: ModelSpec, readonly data: Float32Array, readonly preprocessing: Preprocessing, source = 'model') {
    validateModelSpec(spec);
    this.layout = buildLayout(spec);
    if (data.length !== this.layout.total) throw new UserError(`${source}: ${data.length} parameters, the model needs ${this.layout.total}`);
    checkPreprocessing(spec, preprocessing, source);
    this.tensors = viewTensors(spec, this.layout, data);
    this.kernels = getKernels();
  }

  /** Loads a weights file, or a run directory's `weights.safetensors`. */
  static load(path: string, options: LoadOptions = {}): Model {
    const isDir = existsSync(path) && statSync(path).isDirectory();
    const weights = isDir ? join(path, RUN_WEIGHTS) : path;
    if (!existsSync(weights)) {
      throw new UserError(`${weights}: no such file${isDir ? ' (the run has not finished; `multitask export` can write the newest checkpoint\'s weights)' : ''}`);
    }
    const file = readSafetensors(weights);
    const meta = file.metadata;
    let spec: ModelSpec;
    let preprocessing: Preprocessing;
    if (meta[METADATA_KEY] !== undefined) {
      ({ spec, preprocessing } = parseMetadata(meta[METADATA_KEY], weights));
    } else {
      if (meta['multitask.model'] === undefined) {
        throw new UserError(`${weights}: not a multitask weights file (no "${METADATA_KEY}" or "multitask.model" in its metadata)`);
      }
      spec = parseJSON(meta['multitask.model'], weights, 'multitask.model') as ModelSpec;
      const given = options.preprocessing ?? Model.legacyPreprocessing;
      if (!given) {
        throw new UserError(`${weights}: written before weights files carried their preprocessing (no "${METADATA_KEY}" metadata); load it with its run directory's config (Model.load from the package entry, or LoadOptions.preprocessing)`);
      }
      preprocessing = typeof given === 'function' ? given(isDir ? path : dirname(weights)) : given;
    }
    const layout = buildLayout(validateModelSpec(spec));
    checkAgainstLayout(file, layout.entries, weights);
    const data = new Float32Array(layout.total);
    for (const e of layout.entries) data.set(file.tensors.get(e.name)!.data, e.offset);
    return new Model(spec, data, preprocessing, weights);
  }

  /** The raw feature columns a record needs, in input order. */
  get featureColumns(): string[] {
    return this.preprocessing.features.columns.map((c) => c.name);
  }

  /** Copies of every parameter under its PyTorch name ([out, in] weights, row-major). */
  named(): Record<string, Float32Array> {
    const out: Record<string, Float32Array> = {};
    for (const e of this.layout.entries) out[e.name] = this.data.slice(e.offset, e.offset + e.size);
    return out;
  }

  /** Encodes raw records (column → value) into input rows as the training data was. */
  encode(records: Record<string, unknown>[], source: RecordSource = 'input'): Float32Array {
    return encodeRecords(this.preprocessing.features, records, source);
  }

  /**
   * Predictions for raw records (column → value, encoded like the training
   * data) or for already encoded rows (rows × inputWidth, row-major).
   */
  predict(input: Record<string, unknown>[] | Float32Array, options: PredictOptions = {}): Record<string, Prediction> {
    const x = input instanceof Float32Array ? input : this.encode(input, options.source);
    const width = this.spec.inputWidth;
    if (x.length % width !== 0) throw new UserError(`predict: ${x.length} feature values are not a whole number of rows of ${width}`);
    const rows = x.length / width;
    const out: Record<string, Prediction> = {};
    const ws = this.workspace ??= new Workspace(this.spec, CHUNK_ROWS);
    this.spec.tasks.forEach((task) => {
      out[task.name] = { outputs: new Float32Array(rows * task.outputs), width: task.outputs };
    });
    for (let start = 0; start < rows; start += ws.maxRows) {
      const count = Math.min(ws.maxRows, rows - start);
      ws.x.set(x.subarray(start * width, (start + count) * width));
      const trunkOut = forwardTrunk(this.kernels, this.spec, this.tensors, ws, count);
      this.spec.tasks.forEach((task, t) => {
        const pred = forwardHead(this.kernels, this.spec, t, this.tensors, ws, trunkOut, count);
        out[task.name].outputs.set(pred.subarray(0, count * task.outputs), start * task.outputs);
      });
    }
    this.spec.tasks.forEach((task, t) => {
      const { classes, targetMean, targetStd } = this.preprocessing.tasks[t];
      const p = out[task.name];
      if (classes) {
        p.classNames = classes;
        p.classes = Array.from({ length: rows }, (_, r) => classes[predictedClass(task.loss, p.outputs.subarray(r * p.width, (r + 1) * p.width))]);
        if (options.probabilities) p.probabilities = classProbabilities(task.loss, p.outputs, p.width);
      } else if (targetStd !== undefined) {
        const o = p.outputs;
        for (let i = 0; i < o.length; i++) o[i] = o[i] * targetStd + (targetMean ?? 0);
      }
    });
    return out;
  }

  /**
   * Every metric `multitask eval` prints, per task: accuracy, F1 and ROC AUC
   * (classification), RMSE, MAE and R² in the target's units (regression); see
   * metrics.ts for the definitions and `EvaluationData` for the input.
   */
  evaluate(data: EvaluationData): Record<string, TaskReport> {
    const { x, targets } = Array.isArray(data) ? this.labelledRecords(data) : this.datasetRows(data.dataset, data.split ?? 'validation');
    const predictions = this.predict(x);
    const out: Record<string, TaskReport> = {};
    this.spec.tasks.forEach((task, t) => {
      const p = predictions[task.name];
      out[task.name] = taskReport(task.loss, p.outputs, p.width, targets[t]);
    });
    return out;
  }

  /** Input rows and, per task, targets (class indices or target units; NaN = unlabelled) of labelled records. */
  private labelledRecords(records: Record<string, unknown>[]): { x: Float32Array; targets: Float64Array[] } {
    const x = this.encode(records, 'evaluate');
    const targets = this.preprocessing.tasks.map((task) => {
      const y = new Float64Array(records.length).fill(NaN);
      records.forEach((rec, r) => {
        const cell = valueCell(rec[task.column], 'evaluate', r + 1, task.column);
        if (cell === null) return;
        const at = `evaluate record ${r + 1}, column ${JSON.stringify(task.column)} (task ${task.name})`;
        if (task.classes) {
          const k = task.classes.indexOf(String(cell));
          if (k < 0) throw new UserError(`${at}: unknown class ${JSON.stringify(String(cell))}; expected one of ${task.classes.join(', ')}`);
          y[r] = k;
        } else {
          const v = parseNumber(cell);
          if (v === undefined) throw new UserError(`${at}: ${showCell(cell)} is not a number (a regression target must be numeric)`);
          y[r] = v;
        }
      });
      return y;
    });
    return { x, targets };
  }

  /** Input rows and targets (target units) of a dataset's split. */
  private datasetRows(ds: LabelledDataset, split: 'train' | 'validation' | 'all'): { x: Float32Array; targets: Float64Array[] } {
    if (!sameEncoding(ds.encoding, this.preprocessing.features) || ds.inputWidth !== this.spec.inputWidth) {
      throw new UserError('evaluate: the dataset is encoded differently from the model\'s training data (other features, data, seed or validation fraction?); evaluate raw records instead');
    }
    const rows = split === 'train' ? ds.train : split === 'validation' ? ds.validation
      : Int32Array.from({ length: ds.rows }, (_, i) => i);
    const x = new Float32Array(rows.length * ds.inputWidth);
    this.kernels.gatherRows(ds.inputWidth, ds.features, rows, 0, rows.length, x);
    const targets = this.spec.tasks.map((task) => {
      const data = ds.tasks.find((d) => d.name === task.name);
      if (!data) throw new UserError(`evaluate: the dataset has no task ${JSON.stringify(task.name)} (tasks: ${ds.tasks.map((d) => d.name).join(', ')})`);
      const y = new Float64Array(rows.length);
      for (let k = 0; k < rows.length; k++) {
        const v = data.targets[rows[k]];
        // regression targets are stored standardized; predictions come in target units
        y[k] = data.targetStd === undefined || Number.isNaN(v) ? v : v * data.targetStd + (data.targetMean ?? 0);
      }
      return y;
    });
    return { x, targets };
  }

  /** The `multitask` metadata (see the file comment). */
  metadataJSON(): string {
    const enc = encodingToJSON(this.preprocessing.features);
    return JSON.stringify({
      format: MODEL_FORMAT,
      features: enc.columns,
      inputs: enc.names,
      mean: enc.mean,
      std: enc.std,
      tasks: this.spec.tasks.map((task, t) => ({ ...this.preprocessing.tasks[t], outputs: task.outputs })),
      model: this.spec,
    });
  }

  /** Writes the weights with their metadata (atomically); `extra` adds metadata keys (e.g. `step`). */
  save(path: string, extra: Record<string, string> = {}): void {
    saveParameters(path, this, { [METADATA_KEY]: this.metadataJSON(), ...extra });
  }
}

function predictedClass(loss: string, row: Float32Array): number {
  if (row.length === 1) return loss === 'bce' ? (row[0] > 0.5 ? 1 : 0) : (row[0] > 0 ? 1 : 0);
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

function sameEncoding(a: FeatureEncoding, b: FeatureEncoding): boolean {
  const same = (x: ArrayLike<unknown>, y: ArrayLike<unknown>) => x.length === y.length && Array.from(x).every((v, i) => Object.is(v, y[i]));
  return same(a.names, b.names) && same(a.mean, b.mean) && same(a.std, b.std);
}

function parseJSON(text: string, source: string, key: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UserError(`${source}: metadata "${key}" is not JSON (${(e as Error).message})`);
  }
}

/** The spec and preprocessing in a `multitask` metadata value, checked (the file may be hostile). */
function parseMetadata(text: string, source: string): { spec: ModelSpec; preprocessing: Preprocessing } {
  const m = parseJSON(text, source, METADATA_KEY) as Record<string, unknown>;
  const fail = (what: string): never => {
    throw new UserError(`${source}: metadata "${METADATA_KEY}": ${what}`);
  };
  if (!m || typeof m !== 'object') fail('not a JSON object');
  if (typeof m.format !== 'number' || !Number.isInteger(m.format)) fail(`format ${JSON.stringify(m.format)} is not a version number`);
  if ((m.format as number) > MODEL_FORMAT) fail(`format ${m.format} is newer than this multitask reads (${MODEL_FORMAT}); upgrade multitask`);
  const list = (key: string) => (Array.isArray(m[key]) ? m[key] as unknown[] : fail(`"${key}" is not a list`));
  const numbers = (key: string) => list(key).map((v, i) => (typeof v === 'number' ? v : fail(`${key}[${i}] is not a number`)));
  const strings = (v: unknown, what: string) => (Array.isArray(v) && v.every((s) => typeof s === 'string') ? v as string[] : fail(`${what} is not a list of strings`));
  const features = list('features').map((f, i): FeatureColumn => {
    const c = f as Record<string, unknown>;
    if (!c || typeof c.name !== 'string' || (c.kind !== 'numeric' && c.kind !== 'categorical')) fail(`features[${i}] is not { name, kind: numeric | categorical }`);
    return c.kind === 'categorical'
      ? { name: c.name as string, kind: 'categorical', levels: strings(c.levels, `features[${i}].levels`) }
      : { name: c.name as string, kind: 'numeric' };
  });
  const tasks = list('tasks').map((v, i): TaskPreprocessing => {
    const t = v as Record<string, unknown>;
    if (!t || typeof t.name !== 'string' || typeof t.column !== 'string' || !LOSS_KINDS.includes(t.loss as never)) {
      fail(`tasks[${i}] is not { name, column, loss, ... }`);
    }
    const task: TaskPreprocessing = { name: t.name as string, column: t.column as string, loss: t.loss as TaskPreprocessing['loss'] };
    if (t.classes !== undefined) task.classes = strings(t.classes, `tasks[${i}].classes`);
    if (t.targetStd !== undefined) {
      if (typeof t.targetMean !== 'number' || typeof t.targetStd !== 'number') fail(`tasks[${i}]: targetMean and targetStd must be numbers`);
      task.targetMean = t.targetMean as number;
      task.targetStd = t.targetStd as number;
    }
    return task;
  });
  const spec = m.model as ModelSpec;
  if (!spec || typeof spec !== 'object' || !Array.isArray(spec.trunk) || !Array.isArray(spec.tasks)) fail('"model" is not a model spec');
  const preprocessing: Preprocessing = {
    features: encodingFromJSON({ columns: features, names: strings(m.inputs, '"inputs"'), mean: numbers('mean'), std: numbers('std') }),
    tasks,
  };
  return { spec: validateModelSpec(spec), preprocessing };
}

/** The preprocessing must fit the spec: input width, tasks in order, classes per output. */
function checkPreprocessing(spec: ModelSpec, p: Preprocessing, source: string): void {
  const enc = p.features;
  const fail = (what: string): never => {
    throw new UserError(`${source}: the preprocessing does not fit the model: ${what}`);
  };
  const expanded = enc.columns.reduce((n, c) => n + (c.kind === 'categorical' ? (c.levels?.length ?? 0) : 1), 0);
  if (enc.names.length !== spec.inputWidth || expanded !== spec.inputWidth || enc.mean.length !== spec.inputWidth || enc.std.length !== spec.inputWidth) {
    fail(`${enc.columns.length} feature columns give ${expanded} inputs (${enc.names.length} names, ${enc.mean.length} means, ${enc.std.length} stds), the model takes ${spec.inputWidth}`);
  }
  const names = (xs: readonly { name: string }[]) => xs.map((x) => x.name).join(', ');
  if (names(p.tasks) !== names(spec.tasks)) fail(`tasks ${names(p.tasks)}, the model has ${names(spec.tasks)}`);
  spec.tasks.forEach((task, t) => {
    const pre = p.tasks[t];
    if (pre.loss !== task.loss) fail(`task ${task.name}: loss ${pre.loss}, the model's is ${task.loss}`);
    const classification = task.loss === 'cross_entropy' || task.loss === 'bce' || task.loss === 'bce_with_logits';
    if (classification !== (pre.classes !== undefined)) fail(`task ${task.name}: ${classification ? 'no' : 'unexpected'} class names`);
    if (pre.classes && pre.classes.length !== (task.loss === 'cross_entropy' ? task.outputs : 2)) {
      fail(`task ${task.name}: ${pre.classes.length} class names for ${task.outputs} output(s) of ${task.loss}`);
    }
  });
}
