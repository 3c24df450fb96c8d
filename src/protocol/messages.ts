import type { SharedDatasetHandle } from '../data/dataset.js';
import type { ModelSpec } from '../model/spec.js';
import type { ParameterHandle } from '../model/parameters.js';
import type { ArenaHandle } from './arena.js';
import { PROTOCOL_VERSION } from './codec.js';

/** Given once to every worker thread (piscina's workerData): shared memory handles and the model. */
export interface WorkerSetup {
  v: number;
  spec: ModelSpec;
  params: ParameterHandle;
  /** Dataset features and per-task targets (shared). */
  dataset: SharedDatasetHandle;
  arena: ArenaHandle;
  /** Batch row indices of the current step, written by the coordinator before dispatch. */
  batchRows: SharedArrayBuffer;
  /** Largest number of rows one job covers. */
  maxRows: number;
}

/** Compute the gradient(s) of scales[j]·Σ_rows loss_{tasks[j]} over rows batchRows[rowStart .. rowStart+rowCount). */
export interface GradientJob {
  kind: 'gradient';
  v: number;
  step: number;
  /** parameter version the coordinator expects the worker to read */
  version: number;
  shard: number;
  slot: number;
  tasks: number[];
  scales: number[];
  rowStart: number;
  rowCount: number;
  /**
   * false: one gradient, of Σ scales[j]·loss_tasks[j]; true: each task's own
   * gradient (scaled), from one forward pass, back to back in the payload
   */
  separate: boolean;
  /** 0 on the first try, then 1, 2, ... when the pool retries the job after a fault */
  attempt: number;
}

/** Makes a thread initialise its state; used to warm the pool before timing or training. */
export interface WarmJob {
  kind: 'warm';
  v: number;
}

export type WorkerJob = GradientJob | WarmJob;

export const warmJob = (): WarmJob => ({ kind: 'warm', v: PROTOCOL_VERSION });
