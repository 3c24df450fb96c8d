/*
 * src/data/: tables in (CSV, JSON, JSON Lines, .npy), typed columns out: multi-task
 * datasets in shared memory, their split, samplers, built-in and synthetic data.
 * This file: the shared Dataset types.
 * May import: util, kernels, model, optim, strategies.
 */
/**
 * A multi-task dataset in shared memory: one standardized feature matrix and one
 * target column per task, all Float32Arrays over SharedArrayBuffers so worker
 * threads read them without copies (a job carries row indices, not rows).
 *
 * This file holds the shared types (Dataset, TaskData, DatasetOptions, the feature
 * encoding) and predict()'s record encoding. Building one: dataset-from-table.ts
 * (a CSV/JSON/JSONL table), task-parts.ts (tasks that bring their own rows),
 * npy.ts and synthetic.ts; every loader ends in datasetFromColumns
 * (dataset-from-columns.ts). The train/validation split is split.ts; what a worker
 * thread receives is dataset-handle.ts.
 */
import type { LossKind } from '../kernels/types.js';
import { UserError } from '../util/errors.js';
import { parseNumber, show } from './cells.js';
import { valueCell } from './table.js';
import type { TaskSpec } from './task-spec.js';

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

export type FeatureKind = 'numeric' | 'categorical';

export interface FeatureColumn {
  name: string;
  kind: FeatureKind;
  /** Categorical: the one-hot levels, sorted. */
  levels?: string[];
}

export interface FeatureEncoding {
  columns: FeatureColumn[];
  /** Expanded input names, one per input: `Beak Length (mm)`, `Island=Biscoe`, ... */
  names: string[];
  /** Per input: x_std = (x − mean) / std (one-hot inputs: mean 0, std 1). */
  mean: Float32Array;
  std: Float32Array;
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

/** Undoes a regression task's standardization: a prediction in original units. */
export function unstandardizeTarget(task: TaskData, value: number): number {
  return task.targetMean === undefined ? value : value * task.targetStd! + task.targetMean;
}

// ---------------------------------------------------------------- predict()

/**
 * Encodes raw records (column → value) into standardized feature rows
 * (records.length × inputWidth) the way the dataset's were.
 */
export function encodeFeatures(ds: Dataset, records: Record<string, unknown>[], source = 'input'): Float32Array {
  return encodeRecords(ds.encoding, records, source);
}

/** As encodeFeatures, from the encoding alone (e.g. one restored from a checkpoint). */
export function encodeRecords(enc: FeatureEncoding, records: Record<string, unknown>[], source = 'input'): Float32Array {
  const width = enc.names.length;
  const out = new Float32Array(records.length * width);
  for (let r = 0; r < records.length; r++) {
    const rec = records[r];
    const where = `${source} record ${r + 1}`;
    if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) {
      throw new UserError(`${where}: expected an object of column: value`);
    }
    let off = 0;
    for (const col of enc.columns) {
      const cell = valueCell(rec[col.name], source, r + 1, col.name);
      const at = `${where}, column ${JSON.stringify(col.name)}`;
      if (cell === null) {
        throw new UserError(`${at}: missing value (the model needs every feature: ${enc.columns.map((c) => JSON.stringify(c.name)).join(', ')})`);
      }
      if (col.kind === 'numeric') {
        const v = parseNumber(cell);
        if (v === undefined) throw new UserError(`${at}: ${show(cell)} is not a number (the column is numeric)`);
        out[r * width + off] = (v - enc.mean[off]) / enc.std[off];
        off += 1;
      } else {
        const levels = col.levels!;
        const k = levels.indexOf(String(cell));
        if (k < 0) {
          throw new UserError(`${at}: ${JSON.stringify(String(cell))} is not a known level; expected one of ${levels.join(', ')}`);
        }
        out[r * width + off + k] = 1;
        off += levels.length;
      }
    }
  }
  return out;
}

/** A FeatureEncoding as plain JSON (for checkpoints). */
export interface FeatureEncodingJSON {
  columns: FeatureColumn[];
  names: string[];
  mean: number[];
  std: number[];
}

export function encodingToJSON(enc: FeatureEncoding): FeatureEncodingJSON {
  return {
    columns: enc.columns.map((c) => (c.levels ? { ...c, levels: c.levels.slice() } : { ...c })),
    names: enc.names.slice(),
    mean: Array.from(enc.mean),
    std: Array.from(enc.std),
  };
}

export function encodingFromJSON(j: FeatureEncodingJSON): FeatureEncoding {
  return { columns: j.columns, names: j.names, mean: Float32Array.from(j.mean), std: Float32Array.from(j.std) };
}
