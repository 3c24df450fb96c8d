/*
 * src/trainer/: the coordinator loop (this file), the config schema, the worker
 * pool and shard jobs, checkpoints, the run directory and its on-disk format.
 * May import: util, kernels, model, optim, strategies, data, protocol.
 */
import type { Dataset } from '../data/dataset.js';
import { shareDataset } from '../data/dataset-handle.js';
import { EpochSampler } from '../data/sampler.js';
import { getKernels } from '../kernels/index.js';
import type { Kernels } from '../kernels/types.js';
import { segmentsFor } from '../model/layout.js';
import { Model } from '../model/model.js';
import { Workspace } from '../model/network.js';
import { ParameterStore } from '../model/parameters.js';
import { preprocessingOf } from '../model/preprocessing.js';
import { loadParametersFile } from '../model/safetensors.js';
import { architectureOf, validateModelSpec, type ModelSpec } from '../model/spec.js';
import { createOptimizer, type Optimizer } from '../optim/index.js';
import { FrameArena } from '../protocol/arena.js';
import { PROTOCOL_VERSION } from '../protocol/codec.js';
import type { GradientJob } from '../protocol/messages.js';
import { NonFiniteError, RunError, UserError } from '../util/errors.js';
import { meanWeights, resolveClassWeights } from './class-weights.js';
import { mixtureOf, resolveConfig, shardCount, trunkLayers, type ResolvedConfig, type TrainerConfig } from './config.js';
import { loadData } from './data-source.js';
import { cappedWorkers, checkRunMemory } from './memory-need.js';
import { legacyConfigHash } from './legacy-config.js';
import { evaluateRows, gateWeights } from './evaluate.js';
import { scheduleFunction } from './schedule.js';
import { averageDiagnostics, formatConflict, type GradientDiagnostics } from '../strategies/index.js';
import { StepRecipe, type StepContext } from '../strategies/recipe.js';
import { CHECKPOINT_FORMAT, configHash, type CheckpointData } from './checkpoint.js';
import { LossTotals, type EpochReport, type StepReport, type TaskMetricsByName } from './metrics.js';
import { EarlyStopping } from './early-stopping.js';
import { ShardJobs, type JobTiming } from './shard-jobs.js';
import { StepChunks, stepLoopHandle } from './step-chunk.js';
import { emptyTiming, Profile, type StepTiming } from './profile.js';
import type { ClusterStats, JobRunner, PlacementReport, WorkerPool } from './pool.js';
import { startJobRunner } from './runners.js';

/** Rows the coordinator's own forward passes (evaluate, predict) handle at once. */
const EVAL_CHUNK = 256;

export interface FitOptions {
  /** Epochs to train (default: the config's `epochs`). */
  epochs?: number;
  /** Called after every epoch with its report (`report.epoch` is 0-based; the CLI prints it 1-based); may be async. */
  onEpoch?: (report: EpochReport) => void | Promise<void>;
  /**
   * Called after every step. Steps run back to back on the worker threads (see
   * step()) are reported once their chunk is done, so the parameters may then be
   * a few steps further on than the report.
   */
  onStep?: (step: StepReport) => void | Promise<void>;
  /** Checked before every step, or chunk of steps (about 50 ms of them): true ends fit after the steps in flight. */
  shouldStop?: () => boolean;
  /** Called with a snapshot every `checkpointEvery` steps and at the end of every epoch. */
  onCheckpoint?: (data: CheckpointData) => void | Promise<void>;
  checkpointEvery?: number;
}

/** A task's predictions: raw outputs (regression: in the target's units) and, for classification, the predicted class. */
export interface TaskPrediction {
  outputs: Float32Array;
  width: number;
  classes?: string[];
}

export interface CreateOptions {
  /** What names the config in messages (default `Trainer.create`), e.g. a file name. */
  source?: string;
  /** @internal Tests and benchmarks only, not public API: a prebuilt Dataset instead of the config's data. */
  dataset?: Dataset;
}

/** lr(step) per optimizer: the one shared, or one per task (its own rate and schedule). */
function learningRateFunctions(config: ResolvedConfig, spec: ModelSpec, perEpoch: number,
  optimizers: StepRecipe['optimizers']): ((step: number) => number)[] {
  const base = config.optimizer.lr;
  const global = config.schedule;
  if (optimizers === 'shared') return [scheduleFunction(global, base, perEpoch, 'schedule')];
  return spec.tasks.map((task) => {
    const own = config.taskSchedules[task.name];
    return scheduleFunction(own ?? global, config.taskLr[task.name] ?? base, perEpoch, own ? `taskSchedules.${task.name}` : 'schedule');
  });
}

function checkTaskNames(what: string, names: string[], record: Record<string, unknown>): void {
  for (const key of Object.keys(record)) {
    if (!names.includes(key)) throw new UserError(`${what}: unknown task ${JSON.stringify(key)} (tasks: ${names.join(', ')})`);
  }
}

function buildSpec(config: ResolvedConfig, dataset: Dataset, classWeights: Record<string, number[]> | undefined): ModelSpec {
  const names = dataset.tasks.map((t) => t.name);
  const heads = config.model.heads;
  checkTaskNames('model.heads', names, heads);
  checkTaskNames('taskWeights', names, config.taskWeights);
  checkTaskNames('taskLr', names, config.taskLr);
  checkTaskNames('taskSchedules', names, config.taskSchedules);
  const mixture = mixtureOf(config.model);
  return validateModelSpec({
    inputWidth: dataset.inputWidth,
    trunk: mixture ? [] : trunkLayers(config.model),
    ...(mixture ? { mixture } : {}),
    tasks: dataset.tasks.map((t) => {
      const hidden = heads[t.name]?.hidden;
      return {
        name: t.name,
        loss: t.loss,
        outputs: t.outputs,
        hidden: hidden && { units: hidden.units, activation: hidden.activation ?? 'relu' },
        weight: config.taskWeights[t.name] ?? 1,
        ...(classWeights?.[t.name] ? { classWeights: classWeights[t.name] } : {}),
      };
    }),
  });
}

/** Longest stretch of steps without a turn of the event loop (signals, output, timers), in ms. */
const YIELD_EVERY_MS = 10;

/**
 * The coordinator: owns the parameters and the optimizer state, sends each
 * step's jobs to the worker pool, reduces their gradient frames in a fixed
 * order and applies the strategy — or, for steps run back to back on the
 * threads (src/protocol/step-loop.ts), lays them out and reads their results,
 * each thread then the one writer of its slice. One writer per element, always.
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
  /** one optimizer, or one per task (the recipe says which) */
  private readonly optimizers: Optimizer[];
  /** the shard jobs of each round: fused [the summed gradient]; per-task [every task's]; in turn, one per task */
  private readonly rounds: ShardJobs[][];
  private readonly jobTiming: JobTiming = { computeMs: 0, minOverheadMs: Infinity, jobs: 0 };
  /** the jobs of the round being run, reused every step */
  private readonly roundJobs: GradientJob[] = [];
  /** timing of the most recent step, in milliseconds */
  readonly lastTiming: StepTiming = emptyTiming();
  /** timing of every step since the trainer was created */
  readonly profile = new Profile();
  private epochProfile = new Profile();
  /** gradScale per task for the current step */
  private readonly scales: number[];
  /** per task: its cross_entropy class weights (the batch mean divides by their sum), else null */
  private readonly meanWeights: (Float32Array | null)[];
  /** per optimizer: its learning rate at a step (schedules; per-task rates under sequential) */
  private readonly learningRates: ((step: number) => number)[];
  private readonly trainTotals: LossTotals;
  private readonly evalTotals: LossTotals;
  private readonly evalWorkspace: Workspace;
  private closed = false;
  /** true when the last fit() ended because shouldStop said so */
  stoppedEarly = false;
  /** config.earlyStopping: the best epoch so far and its parameters (undefined without it) */
  readonly earlyStopping: EarlyStopping | undefined;
  /** true when the last fit() ended because the validation metric stopped improving */
  earlyStopped = false;
  /** steps dropped because a loss or gradient was not finite */
  skippedSteps = 0;
  /** steps skipped in a row, up to the last one (a step applied resets it); more than maxSkips stops the run */
  private skippedInARow = 0;
  /** hash of the settings that determine results (not the worker count) */
  readonly configHash: string;
  /** the same settings' hash as written by earlier versions (checkpoints of older runs), if known */
  readonly legacyConfigHash: string | undefined;
  /** the last step's figures */
  readonly lastStep: StepReport;
  private readonly stepTotals: LossTotals;
  /** what the recipe's transforms see of the step in progress */
  private readonly context: StepContext;
  private epochDiagnostics: GradientDiagnostics[] = [];
  /** when step() last let the event loop run (performance.now()) */
  private lastYield = 0;
  /**
   * Steps the worker threads ran back to back (see step()), in how many
   * chunks, and how many chunks stopped early at a step this thread then took
   * alone (a non-finite or very large value, or a failed job).
   */
  readonly loopStats = { steps: 0, chunks: 0, stoppedEarly: 0 };
  /** messages for the caller to show (skipped steps), drained by the CLI */
  readonly warnings: string[] = [];

  private constructor(readonly config: ResolvedConfig, readonly dataset: Dataset, readonly spec: ModelSpec,
    readonly params: ParameterStore, private readonly pool: JobRunner, batchRows: SharedArrayBuffer, arena: FrameArena,
    shards: number, private readonly recipe: StepRecipe, optimizers: Optimizer[], private readonly chunks: StepChunks | undefined,
    learningRates: ((step: number) => number)[], internalDataset: boolean, earlyStopping: EarlyStopping | undefined) {
    this.kernels = getKernels();
    this.shards = shards;
    this.plan = recipe.gradients === 'fused' ? 'fused' : 'per-task';
    this.batchRows = new Int32Array(batchRows);
    this.sampler = new EpochSampler(dataset.train, config.batchSize, config.seed);
    const layout = params.layout;
    const names = spec.tasks.map((t) => t.name);
    const batch = Math.min(config.batchSize, dataset.train.length);
    const all = spec.tasks.map((_, t) => t);
    const jobs = (tasks: number[], separate: boolean, firstSlot: number) =>
      new ShardJobs(this.kernels, arena, names, tasks, layout, separate, batch, shards, firstSlot);
    // Task t's gradient is reduced in place in its jobs' first frame: nothing is copied.
    switch (recipe.gradients) {
      case 'fused': {
        const sum = jobs(all, false, 0);
        this.rounds = [[sum]];
        recipe.bind({ tasks: [], fused: sum.gradients[0] });
        break;
      }
      case 'per-task': {
        const each = jobs(all, true, 0);
        this.rounds = [[each]];
        recipe.bind({ tasks: each.gradients });
        break;
      }
      case 'in-turn': {
        this.rounds = all.map((t) => [jobs([t], false, t * shards)]);
        recipe.bind({ tasks: this.rounds.map(([own]) => own.gradients[0]) });
      }
    }
    this.optimizers = optimizers;
    this.scales = spec.tasks.map(() => 0);
    this.meanWeights = meanWeights(spec.tasks);
    this.learningRates = learningRates;
    this.trainTotals = new LossTotals(dataset.tasks);
    this.stepTotals = new LossTotals(dataset.tasks);
    this.context = {
      step: 0,
      lossSums: this.stepTotals.sums,
      timing: this.lastTiming,
      nonFinite: (what) => {
        if (this.config.onNonFinite === 'stop') throw new NonFiniteError(what, this.globalStep);
        if (this.skippedInARow >= this.config.maxSkips) {
          throw new NonFiniteError(`${what}; ${this.skippedInARow} steps in a row were skipped already (--max-skips ${this.config.maxSkips})`, this.globalStep);
        }
        this.warnings.push(`skipped step: ${what}`);
      },
    };
    pool.onFault = (message) => this.warnings.push(`worker fault: ${message}`);
    this.lastStep = { step: 0, epoch: 0, losses: {}, timing: this.lastTiming };
    // what determines results: not the worker count, nor the run directory's own settings
    const { workers: _w, name: _n, runsDir: _r, checkpointEvery: _c, keepCheckpoints: _k, report: _re, saveWeights: _s,
      epochs: _e, initWeights: _i, cluster: _cl, computeOn: _co, keep: _keep, maxSkips: _ms, data, ...settings } = config;
    this.configHash = configHash({
      ...settings,
      // a task's comment is free text: editing it does not change the run
      ...(settings.tasks ? { tasks: settings.tasks.map(({ comment: _comment, ...task }) => task) } : {}),
      data: data.kind === 'arrays' || internalDataset ? { source: dataset.source, rows: dataset.rows, inputWidth: dataset.inputWidth } : data,
    });
    this.legacyConfigHash = legacyConfigHash(config, dataset);
    this.evalTotals = new LossTotals(dataset.tasks);
    this.evalWorkspace = new Workspace(spec, EVAL_CHUNK);
    this.earlyStopping = earlyStopping;
  }

  /** Loads the data, builds and initialises the model, starts and warms the worker pool. */
  /**
   * Loads the data, builds and initialises the model (then `initWeights`, if
   * given), starts and warms the worker pool. `config` is a config file's
   * content (see `multitask schema`); a run directory's config.json as it is
   * starts the same run. A problem is a one-line UserError naming the field.
   */
  static async create(config: TrainerConfig = {}, internal: CreateOptions = {}): Promise<Trainer> {
    let resolved = resolveConfig(config, internal.source ?? 'Trainer.create');
    const workers = cappedWorkers(resolved.workers);
    resolved = { ...resolved, workers: workers.workers };
    const dataset = internal.dataset ?? loadData(resolved);
    if (dataset.train.length === 0) throw new UserError(`${dataset.source}: no training rows after the validation split`);
    // "balanced" becomes numbers here, on this training split, and the stored config keeps those
    const classWeights = resolveClassWeights(resolved.classWeights, dataset);
    if (classWeights) resolved = { ...resolved, classWeights };
    const spec = buildSpec(resolved, dataset, classWeights);
    const batch = Math.min(resolved.batchSize, dataset.train.length);
    const shards = shardCount(resolved.shards, batch);
    checkRunMemory(resolved, spec, dataset, shards); // before the parameters, the arena and the threads
    const params = ParameterStore.create(spec, resolved.seed);
    if (resolved.initWeights !== undefined) loadParametersFile(resolved.initWeights, params);
    const recipe = StepRecipe.for({
      strategy: resolved.strategy,
      strategyOptions: resolved.strategyOptions,
      weighting: resolved.weighting ?? null,
      sequentialMode: resolved.sequentialMode,
      plan: resolved.plan,
      clip: resolved.clipGradNorm === undefined ? null : { max: resolved.clipGradNorm, per: resolved.clipPer ?? 'global' },
      seed: resolved.seed,
    }, { tasks: spec.tasks.map((t) => t.name), layout: params.layout, trunkLayers: spec.trunk.length }, getKernels());
    // an early-stopping metric the tasks do not report fails here, before any thread starts
    const earlyStopping = resolved.earlyStopping
      ? new EarlyStopping(resolved.earlyStopping, dataset.tasks.map((t) => ({ name: t.name, metric: t.classes ? 'accuracy' : 'rmse' })))
      : undefined;
    // a schedule that does not fit fails here, before any thread starts
    const learningRates = learningRateFunctions(resolved, spec, Math.ceil(dataset.train.length / resolved.batchSize), recipe.optimizers);
    const T = spec.tasks.length;
    // fused: the whole vector per shard; in turn: one task's per (task, shard); else every task's per shard
    const jobsPerStep = recipe.gradients === 'in-turn' ? shards * T : shards;
    // every gradient in a frame spans the whole parameter vector (see ShardJobs)
    const largestPayload = (recipe.gradients === 'per-task' ? T : 1) * params.layout.total;
    const arena = FrameArena.create(jobsPerStep, largestPayload);
    const all = spec.tasks.map((_, t) => t);
    // steps back to back on the threads need the optimizer state where the threads can update it
    const loopable = recipe.threadSteps !== undefined && !resolved.cluster && resolved.computeOn !== 'coordinator';
    const allocate = loopable ? (n: number) => new Float32Array(new SharedArrayBuffer(n * 4)) : undefined;
    const kernels = getKernels();
    const optimizers = recipe.optimizers === 'shared'
      ? [createOptimizer(resolved.optimizer, segmentsFor(params.layout, all), kernels, allocate)]
      : all.map((t) => createOptimizer(resolved.optimizer, segmentsFor(params.layout, [t]), kernels, allocate));
    const combiner = recipe.threadSteps === 'per-task' ? recipe.combiner! : undefined;
    const loop = loopable ? stepLoopHandle({ workers: resolved.workers, shards, tasks: T, batch, total: params.layout.total,
      optimizerConfig: resolved.optimizer, optimizers,
      combination: combiner && { strategy: combiner.strategy.name, options: combiner.options, seed: combiner.seed },
      sequential: recipe.threadSteps === 'sequential' ? { fresh: recipe.gradients === 'in-turn' } : undefined,
    }) : undefined;
    // a chunk of steps lays out every step's batch rows at once
    const batchRows = new SharedArrayBuffer((loop?.maxSteps ?? 1) * batch * 4);
    const pool = await startJobRunner(resolved, {
      v: PROTOCOL_VERSION,
      spec,
      params: params.handle(),
      dataset: shareDataset(dataset),
      arena: arena.handle,
      batchRows,
      maxRows: Math.ceil(batch / shards),
      ...(loop ? { loop } : {}),
    });
    const trainer = new Trainer(resolved, dataset, spec, params, pool, batchRows, arena, shards, recipe, optimizers,
      loop && new StepChunks(loop, batch), learningRates, internal.dataset !== undefined, earlyStopping);
    if (workers.notice) trainer.warnings.push(workers.notice);
    return trainer;
  }

  /**
   * Where the gradient jobs are computed: the worker threads, the coordinator
   * thread, or (computeOn auto, over the first steps) still being timed; with
   * auto's choice, the median step each side took.
   */
  get placement(): PlacementReport {
    return this.pool.placement?.() ?? { placement: 'workers' };
  }

  /** A cluster run's traffic so far: workers seen, bytes sent and received, messages dropped, jobs re-sent. */
  get cluster(): ClusterStats | undefined {
    return this.pool.clusterStats?.();
  }

  get steps(): number {
    return this.globalStep;
  }

  /**
   * Trains for `epochs` more epochs (an epoch already under way, after a resume,
   * counts as one); returns one report per finished epoch. Stops early, after
   * the step in flight, when `shouldStop` says so (then `stoppedEarly` is true).
   */
  async fit(options: FitOptions = {}): Promise<EpochReport[]> {
    const epochs = options.epochs ?? this.config.epochs;
    if (!Number.isSafeInteger(epochs) || epochs < 0) {
      throw new UserError(`epochs: ${JSON.stringify(epochs)} is not a non-negative integer`);
    }
    const every = options.checkpointEvery ?? 0;
    const reports: EpochReport[] = [];
    this.stoppedEarly = false;
    for (let e = 0; e < epochs; e++) {
      const started = performance.now();
      if (this.batchInEpoch === 0) this.trainTotals.reset();
      this.epochProfile = new Profile();
      this.epochDiagnostics = [];
      let steps = 0;
      while (this.batchInEpoch < this.sampler.batchesPerEpoch) {
        if (options.shouldStop?.()) {
          this.stoppedEarly = true;
          return reports;
        }
        // a chunk of steps never runs past the epoch's end or the next checkpoint
        const toCheckpoint = every > 0 ? every - (this.globalStep % every) : Infinity;
        await this.advance(Math.min(this.sampler.batchesPerEpoch - this.batchInEpoch, toCheckpoint), async () => {
          steps++;
          await options.onStep?.(this.lastStep);
          if (every > 0 && this.globalStep % every === 0 && this.batchInEpoch < this.sampler.batchesPerEpoch) {
            await options.onCheckpoint?.(this.snapshot());
          }
        });
      }
      const seconds = (performance.now() - started) / 1000;
      const report: EpochReport = {
        epoch: this.epoch,
        steps,
        seconds,
        stepsPerSecond: steps / seconds,
        timing: this.epochProfile.perStep(),
        diagnostics: this.epochDiagnostics.length ? averageDiagnostics(this.epochDiagnostics) : undefined,
        conflict: this.epochDiagnostics.length
          ? formatConflict(averageDiagnostics(this.epochDiagnostics), this.spec.tasks.map((t) => t.name)) : undefined,
        train: this.trainTotals.summary(),
        validation: this.evaluate('validation'),
        ...(this.spec.mixture ? { gates: this.gateWeights() } : {}),
      };
      report.earlyStopping = this.earlyStopping?.update(this.epoch, report.validation, this.params.data);
      this.epoch++;
      this.batchInEpoch = 0;
      this.trainTotals.reset();
      reports.push(report);
      await options.onEpoch?.(report);
      await options.onCheckpoint?.(this.snapshot());
      if (report.earlyStopping?.stop) {
        this.earlyStopped = true;
        return reports;
      }
    }
    return reports;
  }

  /** Everything needed to continue this run bit for bit (see checkpoint.ts). */
  snapshot(): CheckpointData {
    return {
      format: CHECKPOINT_FORMAT,
      configHash: this.configHash,
      step: this.globalStep,
      epoch: this.epoch,
      batchInEpoch: this.batchInEpoch,
      params: this.params.data.slice(),
      optimizers: this.optimizers.map((o) => o.state()),
      strategyState: this.recipe.state(),
      ...(this.earlyStopping ? { earlyStopping: structuredClone(this.earlyStopping.state) } : {}),
      trainTotals: this.trainTotals.sums.slice(),
      skippedSteps: this.skippedSteps,
    };
  }

  /** Continues from a snapshot of a run with the same settings. */
  restore(data: CheckpointData, source = 'checkpoint'): void {
    this.assertOpen();
    if (data.configHash !== this.configHash && data.configHash !== this.legacyConfigHash) {
      throw new UserError(`${source}: written by a run with other settings, or by an earlier version of multitask (config hash ${data.configHash}, this run ${this.configHash})`);
    }
    if (data.params.length !== this.params.data.length) {
      throw new UserError(`${source}: holds ${data.params.length} parameters, the model has ${this.params.data.length}`);
    }
    // checked into a copy first: nothing changes unless every part fits
    const totals = new LossTotals(this.dataset.tasks);
    if (data.optimizers.length !== this.optimizers.length || !totals.load(data.trainTotals)) {
      throw new UserError(`${source}: holds ${data.optimizers.length} optimizer states and ${data.trainTotals.length} values of training totals, expected ${this.optimizers.length} and ${this.trainTotals.sums.length} (${this.spec.tasks.length} tasks)`);
    }
    if (data.batchInEpoch > this.sampler.batchesPerEpoch) {
      throw new UserError(`${source}: batch ${data.batchInEpoch} is beyond the ${this.sampler.batchesPerEpoch} batches of an epoch`);
    }
    try {
      data.optimizers.forEach((s, i) => this.optimizers[i].loadState(s));
    } catch (e) {
      throw new UserError(`${source}: optimizer state does not fit: ${(e as Error).message}`);
    }
    this.params.data.set(data.params);
    this.params.bumpVersion();
    this.trainTotals.sums.set(totals.sums);
    this.epoch = data.epoch;
    this.batchInEpoch = data.batchInEpoch;
    this.globalStep = data.step;
    this.skippedSteps = data.skippedSteps;
    this.recipe.restore(data.strategyState, source);
    this.earlyStopping?.restore(data.earlyStopping, source);
  }

  /**
   * `count` optimisation steps (default one) on the next batches, strategy and
   * plan as configured. On the worker threads, steps whose update the threads
   * can take slice by slice (StepRecipe.threadSteps) run back to back, in chunks,
   * with no round trip to this thread between them (src/protocol/step-loop.ts):
   * the same bits as one by one.
   */
  async step(count = 1): Promise<void> {
    if (!Number.isSafeInteger(count) || count < 1) throw new UserError(`step: count ${JSON.stringify(count)} is not a positive integer`);
    for (let done = 0; done < count;) done += await this.advance(count - done);
  }

  /**
   * Takes at least one and at most `limit` steps and returns how many; `each`
   * runs after each of them (with a chunk, once the whole chunk is done).
   */
  private async advance(limit: number, each?: () => void | Promise<void>): Promise<number> {
    this.assertOpen();
    // a step can finish without a turn of the event loop (jobs on the coordinator, or a pool
    // answering within its blocking wait): give signals, output and timers theirs now and then
    if (performance.now() - this.lastYield > YIELD_EVERY_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      this.lastYield = performance.now();
    }
    const threads = this.chunks && this.pool.stepLoop?.();
    if (threads) return this.runChunk(threads, this.chunks!, limit, each);
    await this.stepAlone();
    await this.pool.stepsTimed?.(1, this.lastTiming.total);
    await each?.();
    return 1;
  }

  /** The next step's epoch and batch: a new epoch after the last batch of one. */
  private nextBatch(): void {
    if (this.batchInEpoch >= this.sampler.batchesPerEpoch) {
      this.epoch++;
      this.batchInEpoch = 0;
    }
  }

  /**
   * One step, its rounds run by the job runner one at a time, reduced and
   * applied here. `failedOnce`: the cause of a failed first attempt at this
   * step's jobs (in a chunk): they are run as its retries. `resume`: the step's
   * first rounds were applied by the threads (sequential fresh): it goes on
   * from round `round`, with those rounds' losses.
   */
  private async stepAlone(failedOnce?: string, resume?: { round: number; losses: (totals: LossTotals) => void }): Promise<void> {
    // Worker processes can go away between the rounds of a step taken in turn: a step that cannot
    // finish goes back to where it began, so a checkpoint written then resumes it exactly.
    const before = this.config.cluster && this.recipe.rounds > 1 ? this.snapshot() : undefined;
    this.nextBatch();
    const started = performance.now();
    const timing = this.lastTiming;
    Object.assign(timing, emptyTiming());
    this.stepTotals.reset();
    resume?.losses(this.stepTotals);
    const rows = this.sampler.batch(this.epoch, this.batchInEpoch, this.batchRows);
    const scales = this.taskScales(rows, 0);
    const recipe = this.recipe;
    const context = this.context as { step: number };
    context.step = this.globalStep;
    recipe.begin();
    let applied = true;
    const first = resume?.round ?? 0;
    for (let r = first; r < recipe.rounds && applied; r++) {
      try {
        await this.runRound(this.rounds[r], rows, scales, timing, r === first ? failedOnce : undefined);
      } catch (e) {
        if (before && r > 0) this.restore(before);
        throw e;
      }
      const updates = recipe.round(r, this.context);
      if (updates === null) applied = false;
      else for (const u of updates) this.apply(u.optimizer, u.grad, timing);
    }
    const diagnostics = applied ? recipe.end(this.context) : undefined;
    timing.total = performance.now() - started;
    this.finishStep(applied, diagnostics);
  }

  /**
   * Up to `limit` steps in one chunk on the worker threads. A chunk
   * stops early at a step with a non-finite value (not applied by the threads)
   * or whose jobs failed (not begun updating): that step is then taken alone,
   * which decides about the value as always, or retries the jobs.
   */
  private async runChunk(threads: WorkerPool, chunks: StepChunks, limit: number, each?: () => void | Promise<void>): Promise<number> {
    const n = chunks.nextSize(limit);
    const started = performance.now();
    // lay the steps out ahead, with the batches and epochs they reach one by one
    let epoch = this.epoch;
    let batch = this.batchInEpoch;
    for (let k = 0; k < n; k++) {
      if (batch >= this.sampler.batchesPerEpoch) {
        epoch++;
        batch = 0;
      }
      const from = chunks.rowsStart(k);
      const rows = this.sampler.batch(epoch, batch++, this.batchRows.subarray(from));
      chunks.setStep(k, rows, this.taskScales(rows, from), this.learningRates.map((lr) => lr(this.globalStep + k)));
    }
    const failure = await threads.runSteps({
      kind: 'steps', v: PROTOCOL_VERSION, firstStep: this.globalStep, count: n, version: this.params.version,
      optimizerSteps: this.optimizers.map((o) => o.stepCount),
    }, chunks.views);
    const chunkMs = performance.now() - started;
    const { done, halted, updating, rounds } = chunks.views.progress();
    // every optimizer took the finished steps; sequential fresh: the first `rounds` also the stopped step
    this.optimizers.forEach((o, t) => o.countSteps(done + (t < rounds ? 1 : 0)));
    this.loopStats.steps += done;
    this.loopStats.chunks++;
    if (done < n) this.loopStats.stoppedEarly++;
    chunks.timed(done, chunkMs);
    const outside = chunks.outside(done, chunkMs);
    for (let k = 0; k < done; k++) {
      this.nextBatch();
      this.stepTotals.reset();
      chunks.addLosses(k, this.stepTotals);
      chunks.timing(k, done, outside, this.lastTiming);
      // the run's profile only: each epoch's timing line reports the parts, not the threads
      this.profile.addWorkerCompute(chunks.workerCompute(k));
      const combined = chunks.gramWeights(k);
      this.finishStep(true, combined && this.recipe.diagnosticsOf(combined.gram, combined.weights));
      await each?.();
    }
    if (done === n) {
      // a chunk that stopped early is no sample (its time holds the stopped step's part), and its
      // stopped step goes on below on the same side
      await this.pool.stepsTimed?.(n, chunkMs);
      return n;
    }
    if (failure === undefined && !halted) throw new Error(`step loop: the chunk stopped after ${done} of ${n} steps without a cause`);
    if (failure !== undefined && updating) {
      throw new RunError(`step ${this.globalStep}: a worker thread failed while the threads were updating their slices of the parameters, which cannot be undone; the run stops here (a checkpoint written before stays intact). Cause: ${failure}`);
    }
    // the stopped step goes on from the first task whose update the threads did not apply (sequential fresh), else from its start
    await this.stepAlone(failure, rounds > 0 ? { round: rounds, losses: (totals) => chunks.addLosses(done, totals, rounds) } : undefined);
    await each?.();
    return done + 1;
  }

  /** Counts a finished step (its timing already in lastTiming) into the totals, the profile and lastStep. */
  private finishStep(applied: boolean, diagnostics: GradientDiagnostics | undefined): void {
    if (applied) {
      this.trainTotals.addAll(this.stepTotals);
      this.skippedInARow = 0;
    } else {
      this.skippedSteps++;
      this.skippedInARow++;
    }
    this.profile.add(this.lastTiming);
    this.epochProfile.add(this.lastTiming);
    this.lastStep.step = this.globalStep;
    this.lastStep.epoch = this.epoch;
    this.lastStep.skipped = !applied;
    this.lastStep.losses = this.stepTotals.means();
    this.lastStep.diagnostics = diagnostics;
    if (diagnostics) this.epochDiagnostics.push(diagnostics);
    this.batchInEpoch++;
    this.globalStep++;
  }

  /**
   * gradScale per task: weight ÷ labelled entries in this batch, or with cross_entropy
   * class weights ÷ Σ w[y] over them — the whole batch's, so the shards' gradients sum
   * to PyTorch's weighted mean (0 when the denominator is 0).
   */
  private taskScales(rows: number, from: number): number[] {
    this.spec.tasks.forEach((task, t) => {
      const targets = this.dataset.tasks[t].targets;
      const width = targets.length / this.dataset.rows;
      const w = this.meanWeights[t];
      let denominator = 0;
      for (let r = 0; r < rows; r++) {
        const base = this.batchRows[from + r] * width;
        for (let c = 0; c < width; c++) {
          const y = targets[base + c];
          if (!Number.isNaN(y)) denominator += w === null ? 1 : w[y];
        }
      }
      this.scales[t] = denominator > 0 ? task.weight / denominator : 0;
    });
    return this.scales;
  }

  /** Runs a round's shard jobs concurrently at the current parameters and reduces them. */
  private async runRound(round: ShardJobs[], rows: number, scales: number[], timing: StepTiming, failedOnce?: string): Promise<void> {
    const started = performance.now();
    const version = this.params.version;
    const jobs = this.roundJobs;
    jobs.length = 0;
    for (const j of round) j.prepare(this.globalStep, version, rows, scales, jobs);
    const broadcastBefore = this.pool.broadcastMs ?? 0;
    await this.pool.runJobs(jobs, failedOnce);
    const waited = performance.now() - started;
    const broadcast = (this.pool.broadcastMs ?? 0) - broadcastBefore;
    timing.broadcast += broadcast;
    const pt = this.jobTiming;
    pt.computeMs = 0;
    pt.minOverheadMs = Infinity;
    pt.jobs = 0;
    const reduceStart = performance.now();
    for (const j of round) j.reduce(this.stepTotals, started, this.pool.finishedAt, pt);
    timing.reduce += performance.now() - reduceStart;
    if (pt.jobs === 0) return;
    const compute = pt.computeMs / Math.min(this.pool.size, pt.jobs);
    timing.compute += compute;
    const transport = Math.max(0, pt.minOverheadMs - broadcast);
    timing.transport += transport;
    timing.idle += Math.max(0, waited - compute - broadcast - transport);
  }

  /** Optimizer `o` (the only one, or task o's) steps on `grad`; no job is in flight. */
  private apply(o: number, grad: Float32Array, timing: StepTiming): void {
    const started = performance.now();
    this.optimizers[o].step(this.params.data, grad, this.learningRates[o](this.globalStep));
    this.params.bumpVersion();
    timing.optimizer += performance.now() - started;
  }

  /** Loss and metric per task over a split, computed on this thread. */
  evaluate(split: 'validation' | 'train' = 'validation'): TaskMetricsByName {
    this.assertOpen();
    const rows = split === 'validation' ? this.dataset.validation : this.dataset.train;
    return evaluateRows(this.kernels, this.spec, this.params.tensors, this.dataset, rows, this.evalWorkspace, this.evalTotals).summary();
  }

  /** mmoe, ple: each gate's mean expert weights over the validation rows (the training rows without any). */
  gateWeights(): Record<string, Record<string, number>> {
    this.assertOpen();
    if (!this.spec.mixture) throw new UserError(`gateWeights: a ${architectureOf(this.spec)} model has no gates`);
    const rows = this.dataset.validation.length > 0 ? this.dataset.validation : this.dataset.train;
    return gateWeights(this.kernels, this.spec, this.params.tensors, this.dataset, rows, this.evalWorkspace);
  }

  /**
   * Predictions for raw records (column name → value, encoded like the training
   * data) or for already encoded, standardized feature rows (see Model.predict).
   */
  predict(features: Record<string, unknown>[] | Float32Array): Record<string, TaskPrediction> {
    return this.model().predict(features);
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

  /**
   * The trained model apart from the trainer: a copy of the current parameters
   * with the data's preprocessing; predicts, evaluates and saves on the calling
   * thread, and stays as it is while the trainer trains on.
   */
  /**
   * The trained model apart from the trainer (a copy of the parameters): the
   * current ones, or with `keep: 'best'` the best epoch's under early stopping.
   */
  model(keep: 'best' | 'final' = 'final'): Model {
    this.assertOpen();
    const best = keep === 'best' ? this.earlyStopping?.state.bestParams : undefined;
    return new Model(this.spec, (best ?? this.params.data).slice(), preprocessingOf(this.dataset), 'trainer');
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
