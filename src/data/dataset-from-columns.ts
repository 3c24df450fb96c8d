/**
 * Building a Dataset from already-parsed columns (feature columns + each task's raw
 * labels): the shared back end of every loader (tables, several tables, .npy,
 * synthetic data).
 * - Features: categorical columns are one-hot over their sorted levels (levels from
 *   every row); numeric features are standardized on the training rows only
 *   (population mean/std, std 0 → 1; one-hot columns keep mean 0, std 1).
 * - Targets: a missing label only unlabels that task for that row (NaN target).
 *   Classification targets are class indices; regression targets are standardized
 *   on the training rows.
 */
import { UserError } from '../util/errors.js';
import { parseNumber, showCell as show } from '../model/cells.js';
import { sortLabels } from './labels.js';
import type { FeatureColumn } from '../model/preprocessing.js';
import type { Dataset, TaskData } from './dataset.js';
import { type SplitOptions, checkSplitOptions, splitRows } from './split.js';
import type { Cell } from './table.js';
import { type TaskSpec, checkTaskSpec, isBinary, isClassification } from './task-spec.js';

export const DEFAULT_MAX_LEVELS = 100;

/**
 * One already-parsed feature column over a dataset's rows. Numeric: row i's value is
 * `values[offset + i·stride]` (defaults 0 and 1), so the columns of a row-major matrix
 * can view it without copies, or `at(i)`, read where it is kept (a table's typed
 * column); every value must be finite. Categorical: one level per row.
 */
export type FeatureInput =
  | { name: string; kind: 'numeric'; values: ArrayLike<number>; offset?: number; stride?: number }
  | { name: string; kind: 'numeric'; at: (i: number) => number }
  | { name: string; kind: 'categorical'; values: readonly string[] };

/** A task's raw labels over a dataset's rows. */
export interface LabelInput {
  spec: TaskSpec;
  /**
   * Row i's raw label, null when missing: a class name for classification (compared
   * as a string, so 1 and "1" are the same class), a number (or numeric string) for regression.
   */
  label: (i: number) => Cell;
  /** Where row i came from, for messages: `data.csv line 12`. */
  where: (i: number) => string;
  /** What holds the labels, for messages (default `column "<spec.column>"`). */
  what?: string;
}

/** Everything a Dataset is built from, already parsed: n rows of features and labels. */
export interface ColumnsInput {
  source: string;
  rows: number;
  features: FeatureInput[];
  tasks: LabelInput[];
  /** Rows the caller dropped before (reported as Dataset.droppedRows). */
  droppedRows?: number;
  /** A precomputed split over 0..rows−1 (default: splitRows(rows, fraction, seed)). */
  split?: { train: Int32Array; validation: Int32Array };
}

/**
 * Builds a Dataset from already-parsed columns: the shared back end of every loader
 * (tables, .npy, several tables, synthetic data). Splits the rows (seeded), one-hot
 * encodes categorical features (levels from every row), standardizes numeric features
 * and regression targets on the training rows only, and encodes class labels.
 */
export function datasetFromColumns(input: ColumnsInput, opts: SplitOptions & { maxLevels?: number } = {}): Dataset {
  const src = input.source;
  const { fraction, seed } = checkSplitOptions(opts);
  const maxLevels = opts.maxLevels ?? DEFAULT_MAX_LEVELS;
  checkTasks(input.tasks.map((t) => t.spec), src);
  const n = input.rows;
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`datasetFromColumns: rows must be a count, got ${n}`);
  if (n === 0) throw new UserError(`${src}: no data rows`);
  if (input.features.length === 0) throw new UserError(`${src}: no feature columns`);
  const seenFeat = new Set<string>();
  for (const f of input.features) {
    if (seenFeat.has(f.name)) throw new UserError(`${src}: feature column ${JSON.stringify(f.name)} is listed twice`);
    seenFeat.add(f.name);
  }

  // ---- split
  const { train, validation } = input.split ?? splitRows(n, fraction, seed);

  // ---- feature encoding (levels from all rows; mean/std from the train rows)
  const columns: FeatureColumn[] = [];
  const names: string[] = [];
  for (const f of input.features) {
    if (f.kind === 'numeric') {
      columns.push({ name: f.name, kind: 'numeric' });
      names.push(f.name);
    } else {
      const levels = sortLabels([...new Set(f.values)]);
      if (levels.length > maxLevels) {
        throw new UserError(
          `${src}, column ${JSON.stringify(f.name)}: ${levels.length} distinct values, too many for a categorical feature ` +
          `(at most ${maxLevels}); leave the column out of the features (an ID or free-text column?)`);
      }
      columns.push({ name: f.name, kind: 'categorical', levels });
      for (const l of levels) names.push(`${f.name}=${l}`);
    }
  }
  const width = names.length;
  const mean = new Float32Array(width);
  const std = new Float32Array(width).fill(1);
  const features = sharedFloat32(n * width);
  let off = 0;
  for (let f = 0; f < input.features.length; f++) {
    const inp = input.features[f];
    if (inp.kind === 'numeric') {
      const x = numericAt(inp);
      // Rounded to float32 first, so predict() (which reads the Float32Array
      // mean/std) encodes exactly as training did.
      const [m64, s64] = meanStd(x, train);
      const m = Math.fround(m64);
      const s = Math.fround(s64) || 1;
      mean[off] = m;
      std[off] = s;
      for (let i = 0; i < n; i++) features[i * width + off] = (x(i) - m) / s;
      off += 1;
    } else {
      const levels = columns[f].levels!;
      const at = new Map(levels.map((l, k) => [l, k]));
      const v = inp.values;
      for (let i = 0; i < n; i++) features[i * width + off + at.get(v[i])!] = 1;
      off += levels.length;
    }
  }

  // ---- targets
  const tasks = input.tasks.map((t) => encodeTask(src, t, n, train));

  return {
    source: src,
    rows: n,
    inputWidth: width,
    features,
    encoding: { columns, names, mean, std },
    tasks,
    train,
    validation,
    droppedRows: input.droppedRows ?? 0,
  };
}

/** Checks each task spec and that task names are unique; `src` prefixes messages. */
export function checkTasks(specs: readonly TaskSpec[], src: string): void {
  if (!specs || specs.length === 0) throw new UserError(`${src}: no tasks given (at least one task is needed)`);
  const names = new Set<string>();
  for (const spec of specs) {
    checkTaskSpec(spec, src);
    if (names.has(spec.name)) throw new UserError(`${src}: two tasks are named ${JSON.stringify(spec.name)} (task names must be unique)`);
    names.add(spec.name);
  }
}

/** Encodes one task's labels: class indices or standardized (train rows) regression targets, NaN = missing. */
/** The most classes a classification task may take from its labels without listing them. */
export const MAX_FOUND_CLASSES = 100;

function encodeTask(src: string, input: LabelInput, n: number, train: Int32Array): TaskData {
  const { spec } = input;
  const targets = sharedFloat32(n).fill(NaN);
  const label = `${input.what ?? `column ${JSON.stringify(spec.column)}`} (task ${JSON.stringify(spec.name)}, ${spec.loss})`;
  let labelled = 0;
  const base = { name: spec.name, loss: spec.loss, column: spec.column };

  if (isClassification(spec.loss)) {
    const values: (string | null)[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const c = input.label(i);
      values[i] = c === null ? null : String(c);
    }
    let classes: string[];
    if (spec.classes) {
      classes = spec.classes.slice();
      const known = new Set(classes);
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (v !== null && !known.has(v)) {
          throw new UserError(
            `${input.where(i)}, ${label}: unknown class ${JSON.stringify(v)}; expected one of ${classes.join(', ')}`);
        }
      }
    } else {
      classes = sortLabels([...new Set(values.filter((v): v is string => v !== null))]);
      if (isBinary(spec.loss) && classes.length !== 2) {
        throw new UserError(
          `${src}, ${label}: ${spec.loss} needs exactly 2 classes, found ${classes.length}: ${classes.join(', ')} ` +
          `(use cross_entropy for more classes, or list the two classes in the task spec)`);
      }
      if (spec.loss === 'cross_entropy' && classes.length === 1) {
        throw new UserError(`${src}, ${label}: only one class, ${JSON.stringify(classes[0])} (classification needs at least 2)`);
      }
      // a continuous column read as class labels: refused unless the classes are listed
      if (classes.length > MAX_FOUND_CLASSES) {
        throw new UserError(`${src}, ${label}: ${classes.length} distinct labels, more than the ${MAX_FOUND_CLASSES} classes a task may find by itself `
          + '(a numeric target? use a regression loss such as mse; or list the classes in the task spec)');
      }
    }
    const index = new Map(classes.map((c, k) => [c, k]));
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (v === null) continue;
      targets[i] = index.get(v)!;
      labelled++;
    }
    if (labelled === 0) throw noLabels(src, label);
    return { ...base, outputs: spec.loss === 'cross_entropy' ? classes.length : 1, classes, targets, labelled };
  }

  // regression
  const y = new Float64Array(n).fill(NaN);
  for (let i = 0; i < n; i++) {
    const c = input.label(i);
    if (c === null) continue;
    const v = parseNumber(c);
    if (v === undefined) {
      throw new UserError(
        `${input.where(i)}, ${label}: ${show(c)} is not a number (a regression target must be numeric)`);
    }
    y[i] = v;
    labelled++;
  }
  if (labelled === 0) throw noLabels(src, label);
  let sum = 0, count = 0;
  for (const i of train) if (!Number.isNaN(y[i])) { sum += y[i]; count++; }
  const m = count > 0 ? sum / count : 0;
  let ss = 0;
  for (const i of train) if (!Number.isNaN(y[i])) ss += (y[i] - m) ** 2;
  const s = count > 0 && ss > 0 ? Math.sqrt(ss / count) : 1;
  for (let i = 0; i < n; i++) if (!Number.isNaN(y[i])) targets[i] = (y[i] - m) / s;
  return { ...base, outputs: 1, targetMean: m, targetStd: s, targets, labelled };
}

function noLabels(src: string, label: string): UserError {
  return new UserError(`${src}, ${label}: no row has a label (every value is missing)`);
}

function sharedFloat32(length: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(length * Float32Array.BYTES_PER_ELEMENT));
}

/** Row i's value of a numeric feature. */
function numericAt(f: Extract<FeatureInput, { kind: 'numeric' }>): (i: number) => number {
  if ('at' in f) return f.at;
  const { values, offset = 0, stride = 1 } = f;
  return (i) => values[offset + i * stride];
}

/** Population mean and std of x(i) over the given rows i (std 0, or no rows → 1). */
function meanStd(x: (i: number) => number, rows: Int32Array): [number, number] {
  if (rows.length === 0) return [0, 1];
  let sum = 0;
  for (const i of rows) sum += x(i);
  const m = sum / rows.length;
  let ss = 0;
  for (const i of rows) ss += (x(i) - m) ** 2;
  const s = Math.sqrt(ss / rows.length);
  return [m, s > 0 ? s : 1];
}
