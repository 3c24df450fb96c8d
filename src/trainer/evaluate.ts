import type { Kernels } from '../kernels/types.js';
import type { Dataset } from '../data/dataset.js';
import type { ModelSpec } from '../model/spec.js';
import type { ModelTensors } from '../model/parameters.js';
import { GateWeights } from '../model/mixture.js';
import { forwardTrunk, taskLoss, targetWidth, Workspace } from '../model/network.js';
import { LossTotals } from './metrics.js';

/**
 * Forward passes over `rows` of the dataset in chunks of the workspace's size,
 * on the calling thread; returns each task's loss and metric over its labelled rows.
 */
export function evaluateRows(k: Kernels, spec: ModelSpec, params: ModelTensors, dataset: Dataset,
  rows: Int32Array, ws: Workspace, totals: LossTotals): LossTotals {
  totals.reset();
  for (let start = 0; start < rows.length; start += ws.maxRows) {
    const count = Math.min(ws.maxRows, rows.length - start);
    k.gatherRows(dataset.inputWidth, dataset.features, rows, start, count, ws.x);
    const features = forwardTrunk(k, spec, params, ws, count);
    spec.tasks.forEach((task, t) => {
      k.gatherRows(targetWidth(task), dataset.tasks[t].targets, rows, start, count, ws.heads[t].target);
      taskLoss(k, spec, t, params, ws, features, count, ws.stats);
      totals.add(t, ws.stats);
    });
  }
  return totals;
}

/**
 * Each gate's mean expert weights over `rows` of the dataset (a mixture model;
 * forward passes on the calling thread): gate name → expert name → weight.
 */
export function gateWeights(k: Kernels, spec: ModelSpec, params: ModelTensors, dataset: Dataset,
  rows: Int32Array, ws: Workspace): Record<string, Record<string, number>> {
  const weights = new GateWeights(ws.mixture!.structure);
  for (let start = 0; start < rows.length; start += ws.maxRows) {
    const count = Math.min(ws.maxRows, rows.length - start);
    k.gatherRows(dataset.inputWidth, dataset.features, rows, start, count, ws.x);
    forwardTrunk(k, spec, params, ws, count);
    weights.add(ws.mixture!, count);
  }
  return weights.means();
}
