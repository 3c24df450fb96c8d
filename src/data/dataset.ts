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
 * This file holds the shared types (Dataset, TaskData, DatasetOptions); the feature
 * encoding and the record encoding for predictions are the model's
 * (model/preprocessing.ts). Building one: dataset-from-table.ts
 * (a CSV/JSON/JSONL table), task-parts.ts (tasks that bring their own rows),
 * npy.ts and synthetic.ts; every loader ends in datasetFromColumns
 * (dataset-from-columns.ts). The train/validation split is split.ts; what a worker
 * thread receives is dataset-handle.ts.
 */
import type { LossKind } from '../kernels/types.js';
import type { FeatureEncoding } from '../model/preprocessing.js';
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
