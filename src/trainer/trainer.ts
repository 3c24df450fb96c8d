import { loadCsvDataset, encodeFeatures, shareDataset, type Dataset } from '../data/dataset.js';
import { loadPenguins } from '../data/penguins.js';
import { EpochSampler } from '../data/sampler.js';
import { getKernels } from '../kernels/index.js';
import type { Kernels } from '../kernels/types.js';
import { segmentsFor, segmentsLength, type Segment } from '../model/layout.js';
import { forwardTrunk, forwardHead, Workspace } from '../model/network.js';
import { ParameterStore } from '../model/parameters.js';
import { validateModelSpec, type ModelSpec } from '../model/spec.js';
import { createOptimizer, type Optimizer } from '../optim/index.js';
import { FrameArena } from '../protocol/arena.js';
import { PROTOCOL_VERSION } from '../protocol/codec.js';
import { readFrame, type DecodedFrame } from '../protocol/frame.js';
import type { GradientJob } from '../protocol/messages.js';
import { UserError } from '../util/errors.js';
import { resolveConfig, shardCount, type ResolvedConfig, type TrainerConfig } from './config.js';
import { evaluateRows } from './evaluate.js';
import { LossTotals, type EpochReport, type TaskMetricsByName } from './metrics.js';
import { gradientJobs } from './plan.js';
import { WorkerPool } from './pool.js';

/** Rows the coordinator's own forward passes (evaluate, predict) handle at once. */
const EVAL_CHUNK = 256;

export interface FitOptions {
  epochs: number;
  /** Called after every epoch with its report; may be async. */
  onEpoch?: (report: EpochReport) => void | Promise<void>;
}

/** A task's predictions: raw outputs (regression: in the target's units) and, for classification, the predicted class. */
export interface TaskPrediction {
  outputs: Float32Array;
  width: number;
  classes?: string[];
}

function loadData(config: ResolvedConfig): Dataset {
  const { data, seed, validationFraction } = config;
  switch (data.kind) {
    case 'penguins': return loadPenguins({ seed, validationFraction });
    case 'csv': return loadCsvDataset(data.path, { tasks: data.tasks, features: data.features, seed, validationFraction });
    case 'dataset': return data.dataset;
  }
}

function checkTaskNames(what: string, names: string[], record: Record<string, unknown>): void {
  for (const key of Object.keys(record)) {
    if (!names.includes(key)) throw new UserError(`${what}: unknown task ${JSON.stringify(key)} (tasks: ${names.join(', ')})`);
  }
}

function buildSpec(config: ResolvedConfig, dataset: Dataset): ModelSpec {
  const names = dataset.tasks.map((t) => t.name);
  checkTaskNames('heads', names, config.heads);
  checkTaskNames('taskWeights', names, config.taskWeights);
  checkTaskNames('taskLr', names, config.taskLr);
  return validateModelSpec({
    inputWidth: dataset.inputWidth,
    trunk: config.trunk,
    tasks: dataset.tasks.map((t) => ({
      name: t.name,
      loss: t.loss,
      outputs: t.outputs,
      hidden: config.heads[t.name]?.hidden,
      weight: config.taskWeights[t.name] ?? 1,
    })),
  });
}

/**
 * The coordinator: owns the parameters and the optimizer state, sends each
 * step's jobs to the worker pool, reduces their gradient frames in a fixed
 * order and applies the strategy. The only writer of the parameters.
 */
export class Trainer {
  readonly kernels: Kernels;
  readonly shards: number;
  /** 'fused' or 'per-task', as resolved from the strategy and the config. */
  readonly plan: 'fused' | 'per-task';
  epoch = 0;
  private batchInEpoch = 0;
  private globalStep = 0;
  private readonly sampler: EpochSampler;
  private readonly batchRows: Int32Array;
  private readonly arena: FrameArena;
  private readonly optimizers: Optimizer[];
  /** per task: that task's gradient (parameter layout); index T: the summed gradient */
  private readonly grads: Float32Array[];
  private readonly taskSegments: Segment[][];
  private readonly trainTotals: LossTotals;
  private readonly evalTotals: LossTotals;
  private readonly evalWorkspace: Workspace;
  private closed = false;

  private constructor(readonly config: ResolvedConfig, readonly dataset: Dataset, readonly spec: ModelSpec,
    readonly params: ParameterStore, private readonly pool: WorkerPool, batchRows: SharedArrayBuffer, arena: FrameArena,
    shards: number, plan: 'fused' | 'per-task') {
    this.kernels = getKernels();
    this.shards = shards;
    this.plan = plan;
    this.batchRows = new Int32Array(batchRows);
    this.arena = arena;
    this.sampler = new EpochSampler(dataset.train, config.batchSize, config.seed);
    const T = spec.tasks.length;
    const layout = params.layout;
    this.taskSegments = spec.tasks.map((_, t) => segmentsFor(layout, [t]));
    this.grads = Array.from({ length: T + 1 }, () => new Float32Array(layout.total));
    this.optimizers = config.strategy === 'sum'
      ? [createOptimizer(config.optimizer, segmentsFor(layout, spec.tasks.map((_, t) => t)), this.kernels)]
      : this.taskSegments.map((segments) => createOptimizer(config.optimizer, segments, this.kernels));
    this.trainTotals = new LossTotals(dataset.tasks);
    this.evalTotals = new LossTotals(dataset.tasks);
    this.evalWorkspace = new Workspace(spec, EVAL_CHUNK);
  }

  /** Loads the data, builds and initialises the model, starts and warms the worker pool. */
  static async create(config: TrainerConfig = {}): Promise<Trainer> {
    const resolved = resolveConfig(config);
    const dataset = loadData(resolved);
    if (dataset.train.length === 0) throw new UserError(`${dataset.source}: no training rows after the validation split`);
    const spec = buildSpec(resolved, dataset);
    // fail on a bad optimizer config before any thread starts
    createOptimizer(resolved.optimizer, [], getKernels());
    const params = ParameterStore.create(spec, resolved.seed);
    const batch = Math.min(resolved.batchSize, dataset.train.length);
    const shards = shardCount(resolved.shards, batch);
    const plan = resolved.plan === 'auto' ? (resolved.strategy === 'sum' ? 'fused' : 'per-task') : resolved.plan;
    const T = spec.tasks.length;
    const jobsPerStep = plan === 'fused' ? shards : shards * T;
    const largestPayload = plan === 'fused'
      ? params.layout.total
      : Math.max(...spec.tasks.map((_, t) => segmentsLength(segmentsFor(params.layout, [t]))));
    const arena = FrameArena.create(jobsPerStep, largestPayload);
    const batchRows = new SharedArrayBuffer(batch * 4);
    const pool = new WorkerPool(resolved.workers, {
      v: PROTOCOL_VERSION,
      spec,
      params: params.handle(),
      dataset: shareDataset(dataset),
      arena: arena.handle,
      batchRows,
      maxRows: Math.ceil(batch / shards),
    });
    try {
      await pool.warm();
    } catch (e) {
      await pool.close();
      throw e;
    }
    return new Trainer(resolved, dataset, spec, params, pool, batchRows, arena, shards, plan);
  }

  get steps(): number {
    return this.globalStep;
  }

  /** Trains for `epochs` more epochs; returns one report per epoch. */
  async fit(options: FitOptions): Promise<EpochReport[]> {
    if (!Number.isSafeInteger(options.epochs) || options.epochs < 0) {
      throw new UserError(`epochs: ${JSON.stringify(options.epochs)} is not a non-negative integer`);
    }
    const reports: EpochReport[] = [];
    for (let e = 0; e < options.epochs; e++) {
      const started = performance.now();
      this.trainTotals.reset();
      let steps = 0;
      while (this.batchInEpoch < this.sampler.batchesPerEpoch) {
        await this.step();
        steps++;
      }
      const seconds = (performance.now() - started) / 1000;
      const report: EpochReport = {
        epoch: this.epoch,
        steps,
        seconds,
        stepsPerSecond: steps / seconds,
        train: this.trainTotals.summary(),
        validation: this.evaluate('validation'),
      };
      this.epoch++;
      this.batchInEpoch = 0;
      reports.push(report);
      await options.onEpoch?.(report);
    }
    return reports;
  }

  /** One optimisation step on the next batch (strategy and plan as configured). */
  async step(): Promise<void> {
    this.assertOpen();
    if (this.batchInEpoch >= this.sampler.batchesPerEpoch) {
      this.epoch++;
      this.batchInEpoch = 0;
    }
    const rows = this.sampler.batch(this.epoch, this.batchInEpoch, this.batchRows);
    const scales = this.taskScales(rows);
    const all = this.spec.tasks.map((_, t) => t);
    const sumGrad = this.grads[this.spec.tasks.length];
    const { strategy, sequentialMode } = this.config;
    if (strategy === 'sum' && this.plan === 'fused') {
      await this.gradient(all, scales, rows, 0, sumGrad);
      this.apply(0, sumGrad);
    } else if (strategy === 'sum') {
      await this.perTaskGradients(all, scales, rows);
      sumGrad.fill(0);
      all.forEach((t) => this.addTaskGradient(t, sumGrad));
      this.apply(0, sumGrad);
    } else if (sequentialMode === 'stale') {
      await this.perTaskGradients(all, scales, rows);
      all.forEach((t) => this.apply(t, this.grads[t]));
    } else {
      for (const t of all) {
        await this.gradient([t], [scales[t]], rows, 0, this.grads[t]);
        this.apply(t, this.grads[t]);
      }
    }
    this.batchInEpoch++;
    this.globalStep++;
  }

  /** gradScale per task: weight ÷ labelled entries in this batch (0 when none are labelled). */
  private taskScales(rows: number): number[] {
    return this.spec.tasks.map((task, t) => {
      const targets = this.dataset.tasks[t].targets;
      const width = targets.length / this.dataset.rows;
      let labelled = 0;
      for (let r = 0; r < rows; r++) {
        const base = this.batchRows[r] * width;
        for (let c = 0; c < width; c++) if (!Number.isNaN(targets[base + c])) labelled++;
      }
      return labelled > 0 ? task.weight / labelled : 0;
    });
  }

  /** Every task's gradient at the same parameters, all jobs in flight at once. */
  private async perTaskGradients(tasks: number[], scales: number[], rows: number): Promise<void> {
    await Promise.all(tasks.map((t) => this.gradient([t], [scales[t]], rows, t * this.shards, this.grads[t])));
  }

  /** Runs the shard jobs of one gradient and reduces them, in shard order, into `into`. */
  private async gradient(tasks: number[], scales: number[], rows: number, firstSlot: number, into: Float32Array): Promise<void> {
    const version = this.params.version;
    const jobs = gradientJobs(this.globalStep, version, tasks, scales, rows, this.shards, firstSlot);
    await Promise.all(jobs.map((job) => this.pool.run(job)));
    jobs.forEach((job, i) => this.reduce(this.readJob(job, version), into, i === 0));
  }

  private readJob(job: GradientJob, version: number): DecodedFrame {
    try {
      return readFrame(this.arena.frame(job.slot), { step: job.step, shard: job.shard, version });
    } catch (e) {
      const names = job.tasks.map((t) => this.spec.tasks[t].name).join('+');
      throw new Error(`task ${names}, step ${job.step}, shard ${job.shard}: ${(e as Error).message}`);
    }
  }

  /** Adds (or, for the first shard, copies) a frame's payload into a parameter-layout gradient. */
  private reduce(frame: DecodedFrame, into: Float32Array, first: boolean): void {
    const { layout, losses, tasks } = frame.header;
    let at = 0;
    for (let i = 0; i < layout.length; i += 2) {
      const [offset, length] = [layout[i], layout[i + 1]];
      const part = frame.payload.subarray(at, at + length);
      if (first) into.set(part, offset);
      else this.kernels.axpy(length, 1, part, into.subarray(offset, offset + length));
      at += length;
    }
    tasks.forEach((t, j) => this.trainTotals.add(t, losses[3 * j], losses[3 * j + 1], losses[3 * j + 2]));
  }

  private addTaskGradient(t: number, into: Float32Array): void {
    for (const s of this.taskSegments[t]) {
      this.kernels.axpy(s.length, 1, this.grads[t].subarray(s.offset, s.offset + s.length), into.subarray(s.offset, s.offset + s.length));
    }
  }

  /** Optimizer `o` (the only one for sum; task o's for sequential) steps on `grad`; no job is in flight. */
  private apply(o: number, grad: Float32Array): void {
    const lr = this.config.strategy === 'sequential' ? this.config.taskLr[this.spec.tasks[o].name] : undefined;
    this.optimizers[o].step(this.params.data, grad, lr);
    this.params.bumpVersion();
  }

  /** Loss and metric per task over a split, computed on this thread. */
  evaluate(split: 'validation' | 'train' = 'validation'): TaskMetricsByName {
    this.assertOpen();
    const rows = split === 'validation' ? this.dataset.validation : this.dataset.train;
    return evaluateRows(this.kernels, this.spec, this.params.tensors, this.dataset, rows, this.evalWorkspace, this.evalTotals).summary();
  }

  /**
   * Predictions for raw records (column name → value, encoded like the training
   * data) or for already encoded, standardized feature rows.
   */
  predict(features: Record<string, unknown>[] | Float32Array): Record<string, TaskPrediction> {
    this.assertOpen();
    const x = features instanceof Float32Array ? features : encodeFeatures(this.dataset, features);
    const width = this.dataset.inputWidth;
    if (x.length % width !== 0) throw new UserError(`predict: ${x.length} feature values are not a whole number of rows of ${width}`);
    const rows = x.length / width;
    const out: Record<string, TaskPrediction> = {};
    const ws = this.evalWorkspace;
    this.spec.tasks.forEach((task, t) => {
      out[task.name] = { outputs: new Float32Array(rows * task.outputs), width: task.outputs };
      if (this.dataset.tasks[t].classes) out[task.name].classes = [];
    });
    for (let start = 0; start < rows; start += ws.maxRows) {
      const count = Math.min(ws.maxRows, rows - start);
      ws.x.set(x.subarray(start * width, (start + count) * width));
      const trunkOut = forwardTrunk(this.kernels, this.spec, this.params.tensors, ws, count);
      this.spec.tasks.forEach((task, t) => {
        const pred = forwardHead(this.kernels, this.spec, t, this.params.tensors, ws, trunkOut, count);
        const target = out[task.name];
        target.outputs.set(pred.subarray(0, count * task.outputs), start * task.outputs);
        const data = this.dataset.tasks[t];
        for (let r = 0; r < count; r++) {
          const row = pred.subarray(r * task.outputs, (r + 1) * task.outputs);
          if (data.classes) target.classes!.push(data.classes[predictedClass(task.loss, row)]);
        }
      });
    }
    this.spec.tasks.forEach((task, t) => {
      const { targetMean, targetStd } = this.dataset.tasks[t];
      if (targetStd !== undefined) {
        const o = out[task.name].outputs;
        for (let i = 0; i < o.length; i++) o[i] = o[i] * targetStd + (targetMean ?? 0);
      }
    });
    return out;
  }

  /** Copies of every parameter under its PyTorch name ([out, in] weights, row-major). */
  parameters(): Record<string, Float32Array> {
    const out: Record<string, Float32Array> = {};
    for (const [name, view] of Object.entries(this.params.named())) out[name] = view.slice();
    return out;
  }

  /** Replaces parameters by name (PyTorch names and sizes); only between steps. */
  loadParameters(named: Record<string, ArrayLike<number>>, source = 'parameters'): void {
    this.assertOpen();
    this.params.load(named, source);
  }

  /** Ends the worker threads. The trainer cannot step afterwards. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('this Trainer is closed');
  }
}

function predictedClass(loss: string, row: Float32Array): number {
  if (row.length === 1) return loss === 'bce' ? (row[0] > 0.5 ? 1 : 0) : (row[0] > 0 ? 1 : 0);
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}
