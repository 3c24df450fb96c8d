/**
 * The reference multi-task workload every throughput figure uses: input width 64,
 * trunk 512 → 512 with ReLU, heads 10-class cross-entropy, binary BCE-with-logits
 * and 1-output MSE on the trunk output, batch 256 rows shared by all tasks, Adam
 * lr 1e-3; synthetic data from a fixed seed. About 446 MFLOP per step.
 *
 * The same workload scales (`WorkloadShape`): `tasks` heads cycling through those
 * three kinds (digit, flag, level, digit2, flag2, ...) and a trunk `hidden` →
 * `hidden`. The default shape (3 tasks, 512) is exactly the reference workload,
 * data included; scripts/torch-reference/bench_step.py builds the same model.
 */
import type { Dataset, TaskData } from '../src/data/dataset.js';
import type { LossKind } from '../src/kernels/types.js';
import type { TrainerConfig } from '../src/trainer/config.js';
import { Trainer } from '../src/trainer/trainer.js';
import { Rng } from '../src/util/rng.js';
import type { ProbeShape } from './thread-ceiling.js';

export const REFERENCE = { inputWidth: 64, hidden: 512, classes: 10, batch: 256, rows: 8192, lr: 1e-3 };

export interface WorkloadShape {
  /** Number of tasks, 1..16 (default 3). */
  tasks?: number;
  /** Trunk width (default 512). */
  hidden?: number;
  /** Input features (default 64). */
  inputWidth?: number;
  /** Rows per step (default 256). */
  batch?: number;
}

/**
 * The small tabular model: the built-in penguins data's shape (6 standardized
 * inputs, a 64 → 64 trunk, three heads, 32 rows a step), the model most users of
 * a tabular trainer train.
 */
export const SMALL_SHAPE: Required<WorkloadShape> = { tasks: 3, hidden: 64, inputWidth: 6, batch: 32 };

/** The shape with every default filled in. */
export function fullShape(shape: WorkloadShape = {}): Required<WorkloadShape> {
  return { tasks: HEAD_CYCLE.length, hidden: REFERENCE.hidden, inputWidth: REFERENCE.inputWidth, batch: REFERENCE.batch, ...shape };
}

const MAX_TASKS = 16;

interface HeadKind {
  name: string;
  loss: LossKind;
  outputs: number;
}

const HEAD_CYCLE: readonly HeadKind[] = [
  { name: 'digit', loss: 'cross_entropy', outputs: REFERENCE.classes },
  { name: 'flag', loss: 'bce_with_logits', outputs: 1 },
  { name: 'level', loss: 'mse', outputs: 1 },
];

/** The heads of a `tasks`-task workload: the kinds in turn, named digit, flag, level, digit2, flag2, ... */
export function workloadHeads(tasks = HEAD_CYCLE.length): HeadKind[] {
  if (!Number.isInteger(tasks) || tasks < 1 || tasks > MAX_TASKS) throw new RangeError(`tasks must be an integer in 1..${MAX_TASKS} (got ${tasks})`);
  return Array.from({ length: tasks }, (_, t) => {
    const kind = HEAD_CYCLE[t % HEAD_CYCLE.length];
    const round = Math.floor(t / HEAD_CYCLE.length);
    return { ...kind, name: round === 0 ? kind.name : `${kind.name}${round + 1}` };
  });
}

function shared(n: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(n * 4));
}

/**
 * Gaussian features; each task's labels from its own fixed random linear maps
 * (one per class for cross-entropy, one otherwise) so the tasks are learnable.
 * The maps are drawn in task order after the features.
 */
export function workloadDataset(tasks = HEAD_CYCLE.length, seed = 7, d = REFERENCE.inputWidth): Dataset {
  const { classes, rows } = REFERENCE;
  const heads = workloadHeads(tasks);
  const rng = new Rng(seed, 0x4ef);
  const normal = () => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
  const features = shared(rows * d);
  for (let i = 0; i < features.length; i++) features[i] = normal();
  const maps = heads.map((head) => Array.from({ length: head.outputs }, () => Float64Array.from({ length: d }, normal)));
  const taskData = heads.map((head, t): TaskData => {
    const targets = shared(rows);
    for (let r = 0; r < rows; r++) {
      const x = features.subarray(r * d, (r + 1) * d);
      const score = maps[t].map((w) => w.reduce((s, v, i) => s + v * x[i], 0));
      if (head.loss === 'cross_entropy') {
        let best = 0;
        for (let c = 1; c < classes; c++) if (score[c] > score[best]) best = c;
        targets[r] = best;
      } else if (head.loss === 'bce_with_logits') {
        targets[r] = score[0] > 0 ? 1 : 0;
      } else {
        targets[r] = score[0] / Math.sqrt(d);
      }
    }
    const task = { name: head.name, loss: head.loss, column: head.name, outputs: head.outputs, targets, labelled: rows };
    if (head.loss === 'cross_entropy') return { ...task, classes: Array.from({ length: classes }, (_, i) => String(i)) };
    if (head.loss === 'bce_with_logits') return { ...task, classes: ['0', '1'] };
    return { ...task, targetMean: 0, targetStd: 1 };
  });
  const split = Math.floor(rows * 0.9);
  return {
    source: 'reference workload',
    rows,
    inputWidth: d,
    features,
    encoding: { columns: [], names: Array.from({ length: d }, (_, i) => `x${i}`), mean: new Float32Array(d), std: new Float32Array(d).fill(1) },
    tasks: taskData,
    train: Int32Array.from({ length: split }, (_, i) => i),
    validation: Int32Array.from({ length: rows - split }, (_, i) => split + i),
    droppedRows: 0,
  };
}

/** The reference workload's data (3 tasks). */
export function referenceDataset(seed = 7): Dataset {
  return workloadDataset(HEAD_CYCLE.length, seed);
}

/**
 * A workload: its config and its data. The data is a prebuilt Dataset (unstandardized
 * features, a fixed 90/10 split), passed through Trainer.create's internal `dataset` option.
 */
export interface Workload {
  config: TrainerConfig;
  dataset: Dataset;
}

export function workloadConfig(shape: WorkloadShape = {}, over: TrainerConfig = {}): Workload {
  const { tasks, hidden, inputWidth, batch } = fullShape(shape);
  return {
    config: {
      model: { trunk: [hidden, hidden], activation: 'relu' },
      optimizer: { name: 'adam', lr: REFERENCE.lr },
      batchSize: batch,
      seed: 1,
      // the threads' figures, unless a bench asks for auto (which may move small steps to the coordinator)
      computeOn: 'workers',
      ...over,
    },
    dataset: workloadDataset(tasks, 7, inputWidth),
  };
}

export function referenceConfig(over: TrainerConfig = {}): Workload {
  return workloadConfig({}, over);
}

/** A trainer on a workload. */
export function createWorkloadTrainer(w: Workload): Promise<Trainer> {
  return Trainer.create(w.config, { dataset: w.dataset });
}

/**
 * Steps a new trainer takes before anything of it is timed. V8 compiles the hot
 * code of the coordinator and of each worker thread over roughly its first
 * 2,000 steps, on background threads that on two vCPUs take turns with the
 * workers: the workers wait for each other at the step loop's barriers about
 * twice as long as afterwards, and the JavaScript parts of their compute are
 * not yet optimized (scripts/settling.ts at width 256: idle 0.16–0.23 ms a step
 * and compute 0.52–0.59 over the first 2,000 steps, 0.07–0.11 and 0.50–0.54
 * after; under `--no-concurrent-recompilation` the idle starts at 0.08–0.13).
 * A training run of minutes spends little of its time there, so the benches
 * time the settled state.
 */
export const SETTLE_STEPS = 2500;
/** Heavy shapes settle for at most this long: their steps are few and the compiler's share of them small. */
const SETTLE_SECONDS = 5;

/** Runs a new trainer's settling steps (`perCall` a call); returns how many it ran. */
export async function settle(trainer: { step(n?: number): Promise<unknown> }, perCall = 50): Promise<number> {
  const started = performance.now();
  let steps = 0;
  while (steps < SETTLE_STEPS && performance.now() - started < SETTLE_SECONDS * 1000) {
    await trainer.step(perCall);
    steps += perCall;
  }
  return steps;
}

/** The heads' outputs together (12 for the reference workload's three). */
function headOutputs(heads: readonly HeadKind[]): number {
  return heads.reduce((n, head) => n + head.outputs, 0);
}

/** One of `shards` equal shards of a workload's step, as scripts/thread-ceiling.ts runs it. */
export function shardShape(shape: WorkloadShape = {}, shards = 2): ProbeShape {
  const { tasks, hidden, inputWidth, batch } = fullShape(shape);
  return { rows: batch / shards, inputWidth, hidden, headOutputs: headOutputs(workloadHeads(tasks)) };
}

/**
 * Matrix-product FLOPs of one training step (2·batch·in·out per product; biases,
 * activations, losses and the optimizer not counted): the forward pass, every
 * layer's weight gradient and every input gradient but the first layer's. The
 * fused plan runs the trunk backward once, the per-task plan once per task.
 * The reference workload on the fused plan: about 446 MFLOP.
 */
export function stepFlops(shape: WorkloadShape = {}, plan: 'fused' | 'per-task' = 'fused'): number {
  const { inputWidth: d, batch, hidden: h, tasks } = fullShape(shape);
  const heads = workloadHeads(tasks);
  const product = (inputs: number, outputs: number) => 2 * batch * inputs * outputs;
  const trunkForward = product(d, h) + product(h, h);
  const trunkBackward = product(d, h) + 2 * product(h, h);
  const headsForwardBackward = 3 * product(h, headOutputs(heads));
  const trunkBackwards = plan === 'per-task' ? heads.length : 1;
  return trunkForward + headsForwardBackward + trunkBackwards * trunkBackward;
}
