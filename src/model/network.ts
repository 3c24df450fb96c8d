import type { Kernels } from '../kernels/types.js';
import { LOSS_STATS_LENGTH } from '../kernels/types.js';
import { buffers, linearBackward, linearForward, type LayerBuffers } from './linear.js';
import { backwardMixture, backwardTower, forwardMixture, forwardTower, MixtureWorkspace } from './mixture.js';
import type { HeadTensors, ModelTensors } from './parameters.js';
import type { ModelSpec, TaskModelSpec } from './spec.js';
import { outputActivation } from './spec.js';

/** Targets per row: one class index for cross_entropy, one value per output otherwise. */
export function targetWidth(task: TaskModelSpec): number {
  return task.loss === 'cross_entropy' ? 1 : task.outputs;
}

interface HeadBuffers {
  hidden?: LayerBuffers;
  out: LayerBuffers;
  target: Float32Array;
  /** the task's class weights in float32, as the loss kernel reads them (null: none) */
  classWeights: Float32Array | null;
}

/** A task's targets buffer and class weights, as its loss reads them. */
const lossInputs = (t: TaskModelSpec, maxRows: number) => ({
  target: new Float32Array(maxRows * targetWidth(t)),
  classWeights: t.classWeights ? Float32Array.from(t.classWeights) : null,
});

/**
 * Every activation and gradient buffer a forward/backward pass needs for up to
 * `maxRows` rows, allocated once and reused for every batch.
 */
export class Workspace {
  readonly x: Float32Array;
  readonly trunk: LayerBuffers[];
  readonly heads: HeadBuffers[];
  readonly stats = new Float64Array(LOSS_STATS_LENGTH);
  /** a mixture model's buffers (its heads' `out` are the towers' output layers) */
  readonly mixture: MixtureWorkspace | undefined;

  constructor(readonly spec: ModelSpec, readonly maxRows: number) {
    this.x = new Float32Array(maxRows * spec.inputWidth);
    if (spec.mixture) {
      const mixture = new MixtureWorkspace(spec, maxRows);
      this.mixture = mixture;
      this.trunk = [];
      this.heads = spec.tasks.map((t, i) => ({ out: mixture.towers[i][mixture.towers[i].length - 1], ...lossInputs(t, maxRows) }));
      return;
    }
    this.trunk = spec.trunk.map((l) => buffers(maxRows, l.units, l.activation));
    this.heads = spec.tasks.map((t) => ({
      hidden: t.hidden ? buffers(maxRows, t.hidden.units, t.hidden.activation) : undefined,
      out: buffers(maxRows, t.outputs),
      ...lossInputs(t, maxRows),
    }));
  }
}

/**
 * Runs the trunk on ws.x; returns the trunk output (the heads' input). A
 * mixture runs its experts and gates instead, and returns ws.x: each of its
 * towers reads its own task's mixture from the workspace.
 */
export function forwardTrunk(k: Kernels, spec: ModelSpec, p: ModelTensors, ws: Workspace, rows: number): Float32Array {
  if (spec.mixture) {
    forwardMixture(k, p.mixture!, ws.mixture!, ws.x, rows);
    return ws.x;
  }
  let input = ws.x;
  spec.trunk.forEach((layer, i) => {
    input = linearForward(k, p.trunk[i], input, rows, ws.trunk[i], layer.activation);
  });
  return input;
}

/** Runs task t's head on the trunk output; returns its predictions (rows × outputs). */
export function forwardHead(k: Kernels, spec: ModelSpec, t: number, p: ModelTensors, ws: Workspace,
  features: Float32Array, rows: number): Float32Array {
  if (spec.mixture) return forwardTower(k, p.mixture!, ws.mixture!, t, rows);
  const task = spec.tasks[t];
  const head = p.heads[t]!;
  const buf = ws.heads[t];
  let input = features;
  if (head.hidden) input = linearForward(k, head.hidden, input, rows, buf.hidden!, task.hidden!.activation);
  return linearForward(k, head.out, input, rows, buf.out, outputActivation(task.loss));
}

/**
 * Backward of task t's head from the loss gradient in ws.heads[t].out.delta:
 * writes the head's gradients and adds (or, first head of a pass, writes) its
 * gradient w.r.t. the trunk output into the last trunk layer's delta.
 */
function backwardHead(k: Kernels, spec: ModelSpec, t: number, p: ModelTensors, g: HeadTensors,
  ws: Workspace, features: Float32Array, rows: number, accumulate: boolean): void {
  const task = spec.tasks[t];
  const head = p.heads[t]!;
  const buf = ws.heads[t];
  // the heads sum their input gradients straight into the last trunk layer's output gradient
  const dFeatures = ws.trunk.at(-1)?.delta ?? null;
  const beta = accumulate ? 1 : 0;
  if (head.hidden) {
    linearBackward(k, head.out, g.out, buf.hidden!.h, rows, buf.out, outputActivation(task.loss), buf.hidden!.delta, 0);
    linearBackward(k, head.hidden, g.hidden!, features, rows, buf.hidden!, task.hidden!.activation, dFeatures, beta);
  } else {
    linearBackward(k, head.out, g.out, features, rows, buf.out, outputActivation(task.loss), dFeatures, beta);
  }
}

function backwardTrunk(k: Kernels, spec: ModelSpec, p: ModelTensors, g: ModelTensors, ws: Workspace, rows: number): void {
  const last = spec.trunk.length - 1;
  // the heads summed their input gradients into the last layer's delta
  for (let i = last; i >= 0; i--) {
    const input = i === 0 ? ws.x : ws.trunk[i - 1].h;
    const dInput = i === 0 ? null : ws.trunk[i - 1].delta;
    linearBackward(k, p.trunk[i], g.trunk[i], input, rows, ws.trunk[i], spec.trunk[i].activation, dInput, 0);
  }
}

/**
 * One task's share of a pass: its loss is scaled by gradScale (weight ÷ the whole batch's
 * labelled rows, or ÷ Σ of their class weights under cross_entropy class weights).
 */
export interface TaskTerm {
  task: number;
  gradScale: number;
}

/**
 * Forward and backward over the `rows` rows already gathered into the
 * workspace (ws.x and each head's target), the trunk's forward pass run once.
 * - `g` one set of views: writes (overwrites) the gradient of
 *   Σ_terms gradScale · Σ_rows loss_task — one trunk backward for every term;
 * - `g` one set per term: writes each term's own gradient
 *   gradScale · Σ_rows loss_task into g[j] — one trunk backward per term.
 * Loss statistics of term j (LOSS_SUM, LOSS_COUNT, LOSS_METRIC, LOSS_WEIGHT) go to stats[j·LOSS_STATS_LENGTH ..].
 */
export function taskGradients(k: Kernels, spec: ModelSpec, p: ModelTensors, g: ModelTensors | readonly ModelTensors[],
  ws: Workspace, rows: number, terms: readonly TaskTerm[], stats: Float64Array): void {
  const features = forwardTrunk(k, spec, p, ws, rows);
  const separate = Array.isArray(g);
  terms.forEach((term, j) => {
    const t = term.task;
    const task = spec.tasks[t];
    const target = separate ? (g as readonly ModelTensors[])[j] : (g as ModelTensors);
    const pred = forwardHead(k, spec, t, p, ws, features, rows);
    const head = ws.heads[t];
    k.loss(task.loss, rows, task.outputs, pred, head.target, term.gradScale, head.out.delta, ws.stats, head.classWeights);
    stats.set(ws.stats, j * LOSS_STATS_LENGTH);
    if (spec.mixture) {
      backwardTower(k, p.mixture!, target.mixture!, ws.mixture!, t, rows);
      if (separate) backwardMixture(k, p.mixture!, target.mixture!, ws.mixture!, ws.x, rows, [term]);
      return;
    }
    const gh = target.heads[t];
    if (!gh) throw new Error(`the gradient buffer does not cover task ${task.name}'s head`);
    // the trunk's activations stay untouched by backward passes, so each term can reuse them
    backwardHead(k, spec, t, p, gh, ws, features, rows, !separate && j > 0);
    if (separate) backwardTrunk(k, spec, p, target, ws, rows);
  });
  if (separate || terms.length === 0) return;
  if (spec.mixture) backwardMixture(k, p.mixture!, (g as ModelTensors).mixture!, ws.mixture!, ws.x, rows, terms);
  else backwardTrunk(k, spec, p, g as ModelTensors, ws, rows);
}

/** Forward only: loss statistics of task t over the gathered rows (no gradients kept). */
export function taskLoss(k: Kernels, spec: ModelSpec, t: number, p: ModelTensors, ws: Workspace,
  features: Float32Array, rows: number, stats: Float64Array): Float32Array {
  const task = spec.tasks[t];
  const pred = forwardHead(k, spec, t, p, ws, features, rows);
  const head = ws.heads[t];
  k.loss(task.loss, rows, task.outputs, pred, head.target, 0, head.out.delta, stats, head.classWeights);
  return pred;
}
