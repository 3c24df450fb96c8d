/**
 * What a worker thread receives of a Dataset: a plain handle whose arrays view
 * SharedArrayBuffers (shareDataset on the coordinator, attachDataset in the worker).
 */
import type { LossKind } from '../kernels/types.js';
import type { Dataset } from './dataset.js';

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
