import { availableParallelism } from 'node:os';
import type { Dataset } from '../data/dataset.js';
import type { SyntheticOptions } from '../data/synthetic.js';
import type { TaskSpec } from '../data/task-spec.js';
import type { LayerSpec } from '../model/spec.js';
import type { OptimizerConfig } from '../optim/index.js';
import { checkSchedule, type LrSchedule } from './schedule.js';
import { getStrategy, parseStrategyOptions, strategyNames, type StrategyOptions } from '../strategies/index.js';
import { UserError } from '../util/errors.js';

/**
 * 'sum' (one step on Σ w·L), 'sequential' (one step per task), or any registered
 * gradient-combination or loss-weighting strategy (src/strategies: pcgrad, mgda,
 * upgrad, uncertainty, ...), which then combines the per-task gradients of the
 * shared parameters into one step.
 */
export type StrategyName = string;
export const BASE_STRATEGIES = ['sum', 'sequential'] as const;

/** Every name `strategy` accepts. */
export function strategyChoices(): string[] {
  return [...BASE_STRATEGIES, ...strategyNames().filter((n) => n !== 'sum')];
}
export type SequentialMode = 'fresh' | 'stale';
export const SEQUENTIAL_MODES: readonly SequentialMode[] = ['fresh', 'stale'];
export type PlanName = 'auto' | 'fused' | 'per-task';
export const PLAN_NAMES: readonly PlanName[] = ['auto', 'fused', 'per-task'];

/** Where the rows come from. */
export type DataConfig =
  | { kind: 'penguins' }
  /** one table (CSV, .json records or JSON Lines, by extension) whose rows every task shares */
  | { kind: 'csv'; path: string; tasks: TaskSpec[]; features?: string[] }
  /** several tables, each bringing its own rows for its own tasks (same feature columns) */
  | { kind: 'files'; files: { path: string; tasks: TaskSpec[] }[]; features?: string[] }
  /** NumPy: a 2-D feature matrix and one target file per task */
  | { kind: 'npy'; features: string; targets: Record<string, { path: string; loss: TaskSpec['loss']; classes?: string[] }> }
  /** generated data with a chosen correlation between tasks (Ma et al. 2018) */
  | { kind: 'synthetic'; options?: Omit<SyntheticOptions, 'seed' | 'validationFraction'> }
  | { kind: 'dataset'; dataset: Dataset };

export interface TrainerConfig {
  /** Default: the built-in penguins data. */
  data?: DataConfig;
  /** Trunk layers (default: 64 → 64, ReLU). */
  trunk?: LayerSpec[];
  /** Optional hidden layer per task head. */
  heads?: Record<string, { hidden?: LayerSpec }>;
  /** Loss weights per task (default 1). */
  taskWeights?: Record<string, number>;
  strategy?: StrategyName;
  /** Options of the strategy (or of the weighting composed with sequential), e.g. { c: 0.4 } for cagrad. */
  strategyOptions?: Record<string, unknown>;
  /** With strategy 'sequential': a loss-weighting strategy (uncertainty, dwa, rlw, gradnorm, fixed) scaling each task's step. */
  weighting?: string;
  sequentialMode?: SequentialMode;
  /** Execution plan: `fused` runs the trunk once for every task (sum only), `per-task` once per task. */
  plan?: PlanName;
  /** Default: Adam, lr 0.01. */
  optimizer?: OptimizerConfig;
  /** Per-task learning rates (sequential only). */
  taskLr?: Record<string, number>;
  batchSize?: number;
  /** Shards per job set (default: one per 128 rows of the batch, at most 8). Fixed independently of workers so results are too. */
  shards?: number;
  /** Worker threads (default: available cores). */
  workers?: number;
  seed?: number;
  validationFraction?: number;
  /** A NaN or infinity in a loss or gradient: stop the run (default) or drop the step. */
  onNonFinite?: 'stop' | 'skip';
  /** Clip gradient norms (PyTorch's clip_grad_norm_ rule): of each update ('global') or of each task's gradient ('task'). */
  clipGradNorm?: { max: number; per?: 'global' | 'task' };
  /** A job taking longer is presumed hung: its thread is replaced and the job retried (default 120 s). */
  jobTimeoutMs?: number;
  /** Retries of a failed job before the run stops (default 2). */
  jobRetries?: number;
  /** Learning-rate schedule of every optimizer (default constant; see schedule.ts). */
  lrSchedule?: LrSchedule;
  /** sequential: per-task schedules (over the task's own rate), overriding lrSchedule. */
  taskLrSchedules?: Record<string, LrSchedule>;
}

export interface ResolvedConfig {
  data: DataConfig;
  trunk: LayerSpec[];
  heads: Record<string, { hidden?: LayerSpec }>;
  taskWeights: Record<string, number>;
  strategy: StrategyName;
  strategyOptions: StrategyOptions;
  weighting: string | null;
  sequentialMode: SequentialMode;
  plan: PlanName;
  optimizer: OptimizerConfig;
  taskLr: Record<string, number>;
  batchSize: number;
  shards: number | 'auto';
  workers: number;
  seed: number;
  validationFraction: number;
  onNonFinite: 'stop' | 'skip';
  clipGradNorm: { max: number; per: 'global' | 'task' } | null;
  jobTimeoutMs: number;
  jobRetries: number;
  lrSchedule: LrSchedule | null;
  taskLrSchedules: Record<string, LrSchedule>;
}

function oneOf<T extends string>(value: T | undefined, allowed: readonly T[], fallback: T, where: string): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value)) throw new UserError(`${where}: ${JSON.stringify(value)} is not one of ${allowed.join(', ')}`);
  return value;
}

function positiveInt(value: number | undefined, fallback: number, where: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw new UserError(`${where}: ${JSON.stringify(value)} is not a positive integer`);
  return value;
}

/** Fills defaults and checks every field that does not need the data. */
export function resolveConfig(config: TrainerConfig): ResolvedConfig {
  const strategy = oneOf(config.strategy, strategyChoices(), 'sum', 'strategy');
  const weighting = config.weighting ?? null;
  if (weighting !== null) {
    if (strategy !== 'sequential') throw new UserError(`weighting: composes with strategy "sequential"; for a summed step use strategy ${JSON.stringify(weighting)} itself`);
    if (!strategyNames().includes(weighting) || getStrategy(weighting).kind !== 'weighting') {
      throw new UserError(`weighting: ${JSON.stringify(weighting)} is not one of ${strategyNames().filter((n) => getStrategy(n).kind === 'weighting').join(', ')}`);
    }
  }
  const optionsOf = weighting ?? (BASE_STRATEGIES.includes(strategy as never) ? null : strategy);
  if (optionsOf === null && config.strategyOptions && Object.keys(config.strategyOptions).length > 0) {
    throw new UserError(`strategyOptions: strategy ${JSON.stringify(strategy)} takes no options`);
  }
  const strategyOptions = optionsOf === null ? {} : parseStrategyOptions(optionsOf, config.strategyOptions ?? {});
  const plan = oneOf(config.plan, PLAN_NAMES, 'auto', 'plan');
  if (plan === 'fused' && strategy !== 'sum') {
    throw new UserError(`plan: "fused" computes the gradient of the summed loss, which only the "sum" strategy uses (strategy is ${JSON.stringify(strategy)})`);
  }
  const taskLr = config.taskLr ?? {};
  if (strategy !== 'sequential' && Object.keys(config.taskLrSchedules ?? {}).length > 0) {
    throw new UserError('taskLrSchedules: per-task schedules need the "sequential" strategy (one optimizer per task)');
  }
  if (strategy !== 'sequential' && Object.keys(taskLr).length > 0) {
    throw new UserError('taskLr: per-task learning rates need the "sequential" strategy; with "sum" use task weights');
  }
  for (const [task, lr] of Object.entries(taskLr)) {
    if (!Number.isFinite(lr) || lr <= 0) throw new UserError(`taskLr.${task}: ${JSON.stringify(lr)} is not a finite number > 0`);
  }
  const seed = config.seed ?? 0;
  if (!Number.isSafeInteger(seed) || seed < 0) throw new UserError(`seed: ${JSON.stringify(seed)} is not a non-negative integer`);
  const validationFraction = config.validationFraction ?? 0.2;
  if (!(validationFraction >= 0 && validationFraction < 1)) {
    throw new UserError(`validationFraction: ${JSON.stringify(validationFraction)} is not in [0, 1)`);
  }
  const clip = config.clipGradNorm;
  if (clip && !(Number.isFinite(clip.max) && clip.max > 0)) throw new UserError(`clipGradNorm.max: ${JSON.stringify(clip.max)} is not a finite number > 0`);
  const clipPer = oneOf(clip?.per, ['global', 'task'] as const, 'global', 'clipGradNorm.per');
  if (clip && clipPer === 'task' && strategy === 'sum' && plan === 'fused') {
    throw new UserError('clipGradNorm.per: "task" needs each task\'s gradient: use plan "per-task" (the fused plan only computes their sum)');
  }
  return {
    onNonFinite: oneOf(config.onNonFinite, ['stop', 'skip'] as const, 'stop', 'onNonFinite'),
    clipGradNorm: clip ? { max: clip.max, per: clipPer } : null,
    jobTimeoutMs: positiveInt(config.jobTimeoutMs, 120_000, 'jobTimeoutMs'),
    lrSchedule: config.lrSchedule ? checkSchedule(config.lrSchedule, 'lrSchedule') : null,
    taskLrSchedules: Object.fromEntries(Object.entries(config.taskLrSchedules ?? {})
      .map(([task, sched]) => [task, checkSchedule(sched, `taskLrSchedules.${task}`)])),
    jobRetries: config.jobRetries === undefined ? 2 : positiveInt(config.jobRetries + 1, 1, 'jobRetries') - 1,
    data: config.data ?? { kind: 'penguins' },
    trunk: config.trunk ?? [{ units: 64, activation: 'relu' }, { units: 64, activation: 'relu' }],
    heads: config.heads ?? {},
    taskWeights: config.taskWeights ?? {},
    strategy,
    strategyOptions,
    weighting,
    sequentialMode: oneOf(config.sequentialMode, SEQUENTIAL_MODES, 'fresh', 'sequentialMode'),
    plan,
    optimizer: config.optimizer ?? { name: 'adam', lr: 0.01 },
    taskLr,
    batchSize: positiveInt(config.batchSize, 32, 'batchSize'),
    shards: config.shards === undefined ? 'auto' : positiveInt(config.shards, 1, 'shards'),
    workers: positiveInt(config.workers, availableParallelism(), 'workers'),
    seed,
    validationFraction,
  };
}

/** The default shard count depends on the batch only, never on the worker count, so results do not either. */
export function shardCount(shards: number | 'auto', batchSize: number): number {
  const n = shards === 'auto' ? Math.min(8, Math.max(1, Math.floor(batchSize / 128))) : shards;
  return Math.min(n, batchSize);
}
