/**
 * A multi-task dataset in shared memory: one standardized feature matrix and one
 * target column per task, all Float32Arrays over SharedArrayBuffers so worker
 * threads read them without copies (a job carries row indices, not rows).
 *
 * Building one from a Table:
 * - Features: a column is numeric if its first non-missing value is a finite number
 *   (`name:category` / `name:numeric` in `features` forces the kind); categorical
 *   columns are one-hot over their sorted levels. Rows missing any feature value are
 *   dropped (and counted).
 * - Targets: a missing label only unlabels that task for that row (NaN target).
 *   Classification targets are class indices; regression targets are standardized.
 * - Split: a seeded shuffle, the first round(rows·fraction) rows to validation.
 * - Standardization (features and regression targets) is fitted on the training
 *   rows only: population mean/std, std 0 → 1; one-hot columns keep mean 0, std 1.
 *
 * Every loader ends in datasetFromColumns (already-parsed feature columns + each
 * task's raw labels → Dataset): buildDataset for one table, concatTaskDatasets for
 * tasks that bring their own rows (several tables), datasetFromNpy (npy.ts) and the
 * synthetic generator (synthetic.ts).
 */
import type { LossKind } from '../kernels/types.js';
import { UserError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { parseNumber, showCell as show } from '../model/cells.js';
import type { FeatureColumn, FeatureEncoding, FeatureKind } from '../model/preprocessing.js';
import { type Cell, type Table, columnIndex, loadTable, rowLocation, tableFromCsv } from './table.js';
import { type TaskSpec, checkTaskSpec, isBinary, isClassification } from './task-spec.js';

export interface TaskData {
  name: string;
  loss: LossKind;
  /** The column the labels came from. */
  column: string;
  /** Head output width: number of classes for cross_entropy, 1 otherwise. */
  outputs: number;
  /** Classification: label index → class name (sorted unless given in the spec; for bce the second is 1). */
  classes?: string[];
  /** Regression (mse, l1, smooth_l1): standardization fitted on the training split; targets stored standardized. */
  targetMean?: number;
  targetStd?: number;
  /** rows × 1 over a SharedArrayBuffer; NaN where the label is missing. */
  targets: Float32Array;
  /** Rows with a label. */
  labelled: number;
}

export interface Dataset {
  source: string;
  rows: number;
  inputWidth: number;
  /** rows × inputWidth, row-major, SharedArrayBuffer-backed, standardized. */
  features: Float32Array;
  encoding: FeatureEncoding;
  tasks: TaskData[];
  /** Row indices, sorted ascending; disjoint; together every row. */
  train: Int32Array;
  validation: Int32Array;
  /** Rows dropped because a feature value was missing. */
  droppedRows: number;
}

export interface DatasetOptions {
  tasks: TaskSpec[];
  /**
   * Feature columns (default: every column not used as a target). An entry
   * `name:category` forces a column to be categorical, `name:numeric` numeric.
   */
  features?: string[];
  /** Fraction of rows held out for validation, in [0, 1) (default 0.2). */
  validationFraction?: number;
  /** Seed of the train/validation split (default 0). */
  seed?: number;
  /** Most levels a categorical feature may have (default 100), to catch ID/free-text columns. */
  maxLevels?: number;
}

/** Stream id of the split's Rng: `new Rng(seed, SPLIT_STREAM)`. */
export const SPLIT_STREAM = 0x5917;
export const DEFAULT_VALIDATION_FRACTION = 0.2;
export const DEFAULT_MAX_LEVELS = 100;

/** Reads a CSV file and builds a Dataset from it. */
export function loadCsvDataset(path: string, opts: DatasetOptions): Dataset {
  return buildDataset(tableFromCsv(path), opts);
}

/** Reads a `.json` (array of records) or CSV file and builds a Dataset from it. */
export function loadDataset(path: string, opts: DatasetOptions): Dataset {
  return buildDataset(loadTable(path), opts);
}

export function buildDataset(table: Table, opts: DatasetOptions): Dataset {
  const src = table.source;
  const split = checkSplitOptions(opts);
  checkTasks(opts.tasks, src);
  const taskCols = opts.tasks.map((spec) => columnIndex(table, spec.column, `(task ${JSON.stringify(spec.name)})`));
  const targetColumns = new Set(opts.tasks.map((t) => t.column));

  // ---- features → columns and kinds
  const entries = featureEntries(table, opts.features, targetColumns);
  const featCols = checkFeatureEntries(table, entries, opts.tasks);
  const kinds: FeatureKind[] = entries.map((e, f) => e.forced ?? detectKind([table], [featCols[f]]));

  // ---- one pass over the rows: parse features, drop rows missing one
  const parsed = parseFeatureRows(table, entries.map((e) => e.name), featCols, kinds);
  const { kept } = parsed;
  if (kept.length === 0) {
    throw new UserError(
      table.rows.length === 0
        ? `${src}: no data rows (only a header)`
        : `${src}: every one of the ${table.rows.length} rows misses a feature value, so none is left`);
  }

  return datasetFromColumns({
    source: src,
    rows: kept.length,
    features: entries.map((e, f) => featureInput(e.name, kinds[f], parsed, f)),
    tasks: opts.tasks.map((spec, t) => ({
      spec,
      label: (i: number) => table.rows[kept[i]][taskCols[t]],
      where: (i: number) => rowLocation(table, kept[i]),
    })),
    droppedRows: parsed.dropped,
  }, { ...opts, validationFraction: split.fraction, seed: split.seed });
}

// ---------------------------------------------------------------- reusable pieces

/** The split options every dataset builder takes. */
export interface SplitOptions {
  /** Fraction of rows held out for validation, in [0, 1) (default 0.2). */
  validationFraction?: number;
  /** Seed of the train/validation split (default 0). */
  seed?: number;
}

/** Checks the split options (UserError otherwise) and fills in the defaults. */
export function checkSplitOptions(opts: SplitOptions): { fraction: number; seed: number } {
  const fraction = opts.validationFraction ?? DEFAULT_VALIDATION_FRACTION;
  if (!(typeof fraction === 'number' && fraction >= 0 && fraction < 1)) {
    throw new UserError(`validation fraction ${fraction} is not in [0, 1) (e.g. 0.2 holds out 20% of the rows)`);
  }
  const seed = opts.seed ?? 0;
  if (!Number.isSafeInteger(seed)) throw new UserError(`seed ${seed} is not an integer`);
  return { fraction, seed };
}

/**
 * One already-parsed feature column over a dataset's rows. Numeric: row i's value is
 * `values[offset + i·stride]` (defaults 0 and 1), so the columns of a row-major matrix
 * can view it without copies; every value must be finite. Categorical: one level per row.
 */
export type FeatureInput =
  | { name: string; kind: 'numeric'; values: ArrayLike<number>; offset?: number; stride?: number }
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
      const x = inp.values, o = inp.offset ?? 0, st = inp.stride ?? 1;
      // Rounded to float32 first, so predict() (which reads the Float32Array
      // mean/std) encodes exactly as training did.
      const [m64, s64] = meanStd(x, o, st, train);
      const m = Math.fround(m64);
      const s = Math.fround(s64) || 1;
      mean[off] = m;
      std[off] = s;
      for (let i = 0; i < n; i++) features[i * width + off] = (x[o + i * st] - m) / s;
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

/** A feature entry: a column name and a forced kind (`name:category` / `name:numeric`). */
interface FeatureEntry { name: string; forced: FeatureKind | undefined }

/** The feature entries of a table: the given ones (parsed), or every column that is not a target. */
function featureEntries(table: Table, features: readonly string[] | undefined, targetColumns: Set<string>): FeatureEntry[] {
  const entries = features
    ? features.map((f) => parseFeatureEntry(table, f))
    : table.columns.filter((c) => !targetColumns.has(c)).map((name) => ({ name, forced: undefined }));
  if (entries.length === 0) {
    throw new UserError(`${table.source}: no feature columns (every column is a target; columns: ${table.columns.map((c) => JSON.stringify(c)).join(', ')})`);
  }
  return entries;
}

/** Checks the entries against the tasks (no target as a feature, no duplicates); returns their column indices. */
function checkFeatureEntries(table: Table, entries: FeatureEntry[], tasks: readonly TaskSpec[]): number[] {
  const src = table.source;
  const featCols: number[] = [];
  const seenFeat = new Set<string>();
  for (const e of entries) {
    const task = tasks.find((t) => t.column === e.name);
    if (task) {
      throw new UserError(`${src}: column ${JSON.stringify(e.name)} is both a feature and the target of task ${JSON.stringify(task.name)} (a model must not see its own labels)`);
    }
    if (seenFeat.has(e.name)) throw new UserError(`${src}: feature column ${JSON.stringify(e.name)} is listed twice`);
    seenFeat.add(e.name);
    featCols.push(columnIndex(table, e.name, '(feature)'));
  }
  return featCols;
}

interface ParsedFeatures {
  /** Table rows kept (no feature missing), ascending. */
  kept: number[];
  /** Per feature: the parsed values of the kept rows (numeric features only). */
  numeric: number[][];
  /** Per feature: the values of the kept rows (categorical features only). */
  categories: string[][];
  dropped: number;
}

/** One pass over a table's rows: parses the features, drops (and counts) rows missing one. */
function parseFeatureRows(table: Table, names: string[], featCols: number[], kinds: FeatureKind[]): ParsedFeatures {
  const nf = names.length;
  const kept: number[] = [];
  const numeric: number[][] = names.map(() => []);
  const categories: string[][] = names.map(() => []);
  let dropped = 0;
  const cells: Cell[] = new Array(nf);
  for (let r = 0; r < table.rows.length; r++) {
    const row = table.rows[r];
    let missing = false;
    for (let f = 0; f < nf; f++) {
      const cell = row[featCols[f]];
      cells[f] = cell;
      if (cell === null) { missing = true; continue; }
      if (kinds[f] === 'numeric' && parseNumber(cell) === undefined) {
        throw new UserError(
          `${rowLocation(table, r)}, column ${JSON.stringify(names[f])}: ${show(cell)} is not a number (the column is numeric)`);
      }
    }
    if (missing) { dropped++; continue; }
    kept.push(r);
    for (let f = 0; f < nf; f++) {
      if (kinds[f] === 'numeric') numeric[f].push(parseNumber(cells[f])!);
      else categories[f].push(String(cells[f]));
    }
  }
  return { kept, numeric, categories, dropped };
}

function featureInput(name: string, kind: FeatureKind, parsed: ParsedFeatures, f: number): FeatureInput {
  return kind === 'numeric'
    ? { name, kind, values: parsed.numeric[f] }
    : { name, kind, values: parsed.categories[f] };
}

// ---------------------------------------------------------------- tasks with their own rows

/** A table and the tasks it labels (its rows are unlabelled for every other task). */
export interface TaskPart {
  table: Table;
  tasks: TaskSpec[];
}

export interface TaskPartsOptions extends SplitOptions {
  /**
   * Feature columns, the same in every part (default: every column of a part that is
   * not the target column of any task; these must then be the same set in every part).
   * `name:category` / `name:numeric` force a kind as in DatasetOptions.
   */
  features?: string[];
  maxLevels?: number;
}

/**
 * One Dataset from several tables that each bring their own rows for their own tasks
 * (same feature columns): the rows are the union of the parts' rows (in part order), and
 * a row is labelled only for the tasks of its part (NaN for the others), so the
 * partial-label machinery trains each task on its own rows. A task may appear in several
 * parts (same loss and classes) to pool their rows. Each part is split separately with
 * the given fraction (stratified by part, so a small part still gets validation rows);
 * part 0 uses exactly buildDataset's split. Feature kinds, one-hot levels and
 * standardization (training rows only) are fitted on the union.
 */
export function concatTaskDatasets(parts: readonly TaskPart[], opts: TaskPartsOptions = {}): Dataset {
  if (!parts || parts.length === 0) throw new UserError('no data parts given (each task needs a table)');
  const { fraction, seed } = checkSplitOptions(opts);
  const source = parts.map((p) => p.table.source).join(' + ');

  // ---- tasks: one per name; a name repeated across parts must mean the same task
  const specs: TaskSpec[] = [];
  const partTaskCols: number[][] = [];
  for (const part of parts) {
    const t = part.table;
    if (!part.tasks || part.tasks.length === 0) throw new UserError(`${t.source}: no tasks given for this file (each part labels at least one task)`);
    checkTasks(part.tasks, t.source);
    partTaskCols.push(part.tasks.map((spec) => columnIndex(t, spec.column, `(task ${JSON.stringify(spec.name)})`)));
    for (const spec of part.tasks) {
      const prev = specs.find((s) => s.name === spec.name);
      if (!prev) { specs.push(spec); continue; }
      if (prev.loss !== spec.loss || JSON.stringify(prev.classes) !== JSON.stringify(spec.classes)) {
        throw new UserError(
          `${t.source}: task ${JSON.stringify(spec.name)} is given again with a different loss or class list ` +
          `(${spec.loss}${spec.classes ? ':' + spec.classes.join('|') : ''} vs ${prev.loss}${prev.classes ? ':' + prev.classes.join('|') : ''})`);
      }
    }
  }

  // ---- features: the same columns in every part
  // (by default every task's target column is left out, not only the part's own: a label is never a feature)
  const allTargets = new Set(parts.flatMap((p) => p.tasks.map((s) => s.column)));
  const partEntries = parts.map((p) => featureEntries(p.table, opts.features, allTargets));
  const ref = partEntries[0];
  const refNames = ref.map((e) => e.name);
  for (let k = 1; k < parts.length; k++) {
    const names = new Set(partEntries[k].map((e) => e.name));
    const missing = refNames.filter((n) => !names.has(n));
    const extra = partEntries[k].map((e) => e.name).filter((n) => !refNames.includes(n));
    if (missing.length > 0 || extra.length > 0) {
      const list = (xs: string[]) => xs.map((x) => JSON.stringify(x)).join(', ');
      throw new UserError(
        `${parts[k].table.source}: its feature columns differ from those of ${parts[0].table.source} ` +
        `(${[missing.length ? `missing ${list(missing)}` : '', extra.length ? `extra ${list(extra)}` : ''].filter(Boolean).join('; ')}); ` +
        `every part needs the same feature columns (pass the feature list, or drop the extra columns)`);
    }
  }
  const partCols = parts.map((p, k) => {
    const byName = new Map(partEntries[k].map((e) => [e.name, e]));
    return checkFeatureEntries(p.table, refNames.map((n) => byName.get(n)!), specs);
  });
  const kinds: FeatureKind[] = ref.map((e, f) => e.forced ?? detectKind(parts.map((p) => p.table), partCols.map((c) => c[f])));

  // ---- rows: each part parsed and split on its own, then concatenated
  const parsed = parts.map((p, k) => parseFeatureRows(p.table, refNames, partCols[k], kinds));
  const starts: number[] = [];
  let n = 0;
  const trainParts: Int32Array[] = [];
  const valParts: Int32Array[] = [];
  for (let k = 0; k < parts.length; k++) {
    const nk = parsed[k].kept.length;
    if (nk === 0) {
      const t = parts[k].table;
      throw new UserError(t.rows.length === 0
        ? `${t.source}: no data rows (only a header)`
        : `${t.source}: every one of the ${t.rows.length} rows misses a feature value, so none is left`);
    }
    const s = splitWith(nk, fraction, k === 0 ? new Rng(seed, SPLIT_STREAM) : new Rng(seed, SPLIT_STREAM, k));
    trainParts.push(s.train.map((i) => i + n));
    valParts.push(s.validation.map((i) => i + n));
    starts.push(n);
    n += nk;
  }
  const cat = (xs: Int32Array[]) => {
    const out = new Int32Array(xs.reduce((a, x) => a + x.length, 0));
    let o = 0;
    for (const x of xs) { out.set(x, o); o += x.length; }
    return out;
  };
  const partOf = (i: number) => {
    let k = starts.length - 1;
    while (starts[k] > i) k--;
    return k;
  };
  const features: FeatureInput[] = refNames.map((name, f) => kinds[f] === 'numeric'
    ? { name, kind: 'numeric', values: parsed.flatMap((p) => p.numeric[f]) }
    : { name, kind: 'categorical', values: parsed.flatMap((p) => p.categories[f]) });
  const tasks: LabelInput[] = specs.map((spec) => {
    // per part: the column of this task, or -1 when the part does not label it
    const colOf = parts.map((p, k) => {
      const t = p.tasks.findIndex((s) => s.name === spec.name);
      return t < 0 ? -1 : partTaskCols[k][t];
    });
    const files = parts.filter((_, k) => colOf[k] >= 0).map((p) => p.table.source);
    return {
      spec,
      what: `column ${JSON.stringify(spec.column)} of ${files.join(', ')}`,
      label: (i: number) => {
        const k = partOf(i);
        return colOf[k] < 0 ? null : parts[k].table.rows[parsed[k].kept[i - starts[k]]][colOf[k]];
      },
      where: (i: number) => {
        const k = partOf(i);
        return rowLocation(parts[k].table, parsed[k].kept[i - starts[k]]);
      },
    };
  });
  return datasetFromColumns({
    source,
    rows: n,
    features,
    tasks,
    droppedRows: parsed.reduce((a, p) => a + p.dropped, 0),
    split: { train: cat(trainParts), validation: cat(valParts) },
  }, { validationFraction: fraction, seed, maxLevels: opts.maxLevels });
}

/** A data file and the tasks it labels, for loadTaskDatasets. */
export interface TaskFile {
  path: string;
  tasks: TaskSpec[];
}

/** Reads each file (by extension, as loadTable) and builds one Dataset with concatTaskDatasets. */
export function loadTaskDatasets(files: readonly TaskFile[], opts: TaskPartsOptions = {}): Dataset {
  return concatTaskDatasets(files.map((f) => ({ table: loadTable(f.path), tasks: f.tasks })), opts);
}

/**
 * The seeded split: shuffle 0..n−1 with `new Rng(seed, SPLIT_STREAM)`, the first
 * round(n·fraction) (at least 1 when n ≥ 2 and fraction > 0, at most n − 1) to
 * validation, the rest to train, each sorted ascending.
 */
export function splitRows(n: number, fraction: number, seed: number): { train: Int32Array; validation: Int32Array } {
  return splitWith(n, fraction, new Rng(seed, SPLIT_STREAM));
}

function splitWith(n: number, fraction: number, rng: Rng): { train: Int32Array; validation: Int32Array } {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  rng.shuffle(order);
  let nVal = Math.round(n * fraction);
  if (fraction > 0 && n >= 2) nVal = Math.max(1, nVal);
  nVal = Math.max(0, Math.min(nVal, n - 1));
  return { validation: order.slice(0, nVal).sort(), train: order.slice(nVal).sort() };
}

/** Encodes one task's labels: class indices or standardized (train rows) regression targets, NaN = missing. */
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

/** Row indices (from `indices`) where the task has a label. */
export function labelledIndices(task: TaskData, indices: ArrayLike<number>): Int32Array {
  let count = 0;
  for (let k = 0; k < indices.length; k++) if (!Number.isNaN(task.targets[indices[k]])) count++;
  const out = new Int32Array(count);
  let j = 0;
  for (let k = 0; k < indices.length; k++) if (!Number.isNaN(task.targets[indices[k]])) out[j++] = indices[k];
  return out;
}

/** Undoes a regression task's standardization: a prediction in original units. */
export function unstandardizeTarget(task: TaskData, value: number): number {
  return task.targetMean === undefined ? value : value * task.targetStd! + task.targetMean;
}

// ---------------------------------------------------------------- workers

/** A task as a worker needs it. */
export interface SharedTaskData {
  name: string;
  loss: LossKind;
  outputs: number;
  targets: Float32Array;
}

/**
 * What a worker thread needs of a Dataset. Plain data whose arrays view
 * SharedArrayBuffers: postMessage / structuredClone / workerData share the
 * memory instead of copying it.
 */
export interface SharedDatasetHandle {
  kind: 'multitask.dataset';
  version: 1;
  rows: number;
  inputWidth: number;
  features: Float32Array;
  tasks: SharedTaskData[];
}

/** The worker-side view of a dataset (the same shape as the handle, checked). */
export type WorkerDataset = SharedDatasetHandle;

export function shareDataset(ds: Dataset): SharedDatasetHandle {
  const handle: SharedDatasetHandle = {
    kind: 'multitask.dataset',
    version: 1,
    rows: ds.rows,
    inputWidth: ds.inputWidth,
    features: ds.features,
    tasks: ds.tasks.map((t) => ({ name: t.name, loss: t.loss, outputs: t.outputs, targets: t.targets })),
  };
  checkHandle(handle);
  return handle;
}

/** Checks a handle received from another thread and returns the dataset view. */
export function attachDataset(handle: SharedDatasetHandle): WorkerDataset {
  checkHandle(handle);
  return handle;
}

function checkHandle(h: SharedDatasetHandle): void {
  if (!h || h.kind !== 'multitask.dataset' || h.version !== 1) {
    throw new Error(`not a multitask dataset handle (version 1): ${JSON.stringify(h && { kind: h.kind, version: h.version })}`);
  }
  const shared = (a: unknown) => a instanceof Float32Array && a.buffer instanceof SharedArrayBuffer;
  if (!shared(h.features) || h.features.length !== h.rows * h.inputWidth) {
    throw new Error(`dataset handle: features must be a SharedArrayBuffer-backed Float32Array of ${h.rows}×${h.inputWidth}`);
  }
  if (!Array.isArray(h.tasks)) throw new Error('dataset handle: tasks must be an array');
  for (const t of h.tasks) {
    if (!shared(t.targets) || t.targets.length !== h.rows) {
      throw new Error(`dataset handle: targets of task ${JSON.stringify(t.name)} must be a SharedArrayBuffer-backed Float32Array of ${h.rows}`);
    }
  }
}

// ---------------------------------------------------------------- helpers

function sharedFloat32(length: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(length * Float32Array.BYTES_PER_ELEMENT));
}

// raw values: read as a Model reads records to predict on
export { parseNumber };

/** A column's kind from its first non-missing value, looking through the tables in order. */
function detectKind(tables: readonly Table[], cols: readonly number[]): FeatureKind {
  for (let k = 0; k < tables.length; k++) {
    for (const row of tables[k].rows) {
      const c = row[cols[k]];
      if (c !== null) return parseNumber(c) !== undefined ? 'numeric' : 'categorical';
    }
  }
  return 'numeric'; // all missing: every row is dropped anyway
}

function parseFeatureEntry(table: Table, entry: string): { name: string; forced: FeatureKind | undefined } {
  if (table.columns.includes(entry)) return { name: entry, forced: undefined };
  const m = /^(.*):(category|categorical|numeric)$/.exec(entry);
  if (m) {
    columnIndex(table, m[1], '(feature)');
    return { name: m[1], forced: m[2] === 'numeric' ? 'numeric' : 'categorical' };
  }
  columnIndex(table, entry, '(feature)'); // throws, listing the columns
  return { name: entry, forced: undefined };
}

/** Population mean and std of x[offset + i·stride] over the given rows i (std 0, or no rows → 1). */
function meanStd(x: ArrayLike<number>, offset: number, stride: number, rows: Int32Array): [number, number] {
  if (rows.length === 0) return [0, 1];
  let sum = 0;
  for (const i of rows) sum += x[offset + i * stride];
  const m = sum / rows.length;
  let ss = 0;
  for (const i of rows) ss += (x[offset + i * stride] - m) ** 2;
  const s = Math.sqrt(ss / rows.length);
  return [m, s > 0 ? s : 1];
}

/** Sorts labels numerically when they all are numbers, else by UTF-16 code units (locale-independent). */
export function sortLabels(labels: string[]): string[] {
  const nums = labels.map((l) => parseNumber(l));
  if (nums.every((v) => v !== undefined)) {
    return labels.map((l, i) => [l, nums[i]!] as const).sort((a, b) => a[1] - b[1] || cmp(a[0], b[0])).map((p) => p[0]);
  }
  return labels.slice().sort(cmp);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
