import type { SharedDatasetHandle } from '../data/dataset-handle.js';
import type { KernelChoice } from '../kernels/index.js';
import type { ModelSpec } from '../model/spec.js';
import type { ParameterHandle } from '../model/parameters.js';
import type { ArenaHandle } from './arena.js';
import type { MailboxHandle } from './mailbox.js';
import type { Segment } from '../model/layout.js';
import type { ResolvedOptimizerConfig } from '../optim/index.js';
import type { StrategyOptions } from '../strategies/types.js';

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
  /** The servers' mailboxes (one buffer; each server is told its index). */
  mailboxes: Omit<MailboxHandle, 'index'>;
  /** The kernels to compute with (a cluster run names them so every process agrees); default: this thread's choice. */
  kernels?: KernelChoice;
  /** Steps back to back on the threads (src/protocol/step-loop.ts), when the run's update allows it. */
  loop?: StepLoopHandle;
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

/** The shared memory of the step loop, given to every worker thread once (workerData); see step-loop.ts. */
export interface StepLoopHandle {
  control: SharedArrayBuffer;
  /** Float64 per step: each optimizer's learning rate, then the T task scales */
  stepData: SharedArrayBuffer;
  /** Int32 per (step, shard): rowStart (into the batch-rows buffer), rowCount */
  shardRows: SharedArrayBuffer;
  /** Float64 per (step, shard): the shard's loss statistics (T × LOSS_STATS_LENGTH) */
  losses: SharedArrayBuffer;
  /** Float64 per (step, worker): TIMING_FIELDS */
  timings: SharedArrayBuffer;
  /** most steps one chunk may hold */
  maxSteps: number;
  shards: number;
  workers: number;
  tasks: number;
  /** spin briefly before sleeping at a barrier (only when every worker has a core of its own) */
  spin: boolean;
  /** the update rule's settings, the same for every optimizer */
  optimizerConfig: ResolvedOptimizerConfig;
  /** the optimizers in the order a step applies them (one, or one per task under sequential): their segments and shared state */
  optimizers: { segments: Segment[]; buffers: Record<string, SharedArrayBuffer> }[];
  /**
   * Per-task plans: each task's own gradient, combined by a strategy whose
   * weights come from the Gramian alone (src/protocol/slice-combination.ts).
   */
  combination?: StepLoopCombination;
  /**
   * sequential: each task's gradient to its own optimizer, in task order; all
   * at the step's parameters (stale) or each at the parameters the previous
   * task's update left (fresh: one compute phase per task). `gram`: Float64
   * per step, the T×T Gramian of the trunk gradients (the diagnostics).
   */
  sequential?: { fresh: boolean; gram: SharedArrayBuffer };
}

/** How a per-task step loop combines the task gradients into the update. */
export interface StepLoopCombination {
  /** the strategy's registry name, its resolved options and the run's seed */
  strategy: string;
  options: StrategyOptions;
  seed: number;
  /** Float32, the whole parameter vector: the update the optimizer applies */
  update: SharedArrayBuffer;
  /** Float64 per step: the T×T Gramian of the trunk gradients, then the T weights */
  gramWeights: SharedArrayBuffer;
}

/** Posted to every worker of a step loop: run the chunk of `count` steps laid out in the loop's buffers (src/protocol/step-loop.ts). */
export interface StepsJob {
  kind: 'steps';
  v: number;
  /** the global step number of the chunk's first step */
  firstStep: number;
  count: number;
  /** parameter version at the chunk's start (each optimizer update adds one) */
  version: number;
  /** each optimizer's step count before the chunk */
  optimizerSteps: number[];
}

/** What the coordinator posts to a worker thread's mailbox. */
export type ServerJob = GradientJob | StepsJob;

/**
 * The one task a worker thread is given by the pool: initialise, then serve the
 * rounds of gradient jobs posted to mailbox `server` after generation `seen`,
 * until the coordinator stops it.
 */
export interface ServeJob {
  kind: 'serve';
  v: number;
  server: number;
  seen: number;
  /** this server's claim on the mailbox (see Mailbox.handOver) */
  token: number;
}
