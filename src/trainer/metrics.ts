import type { TaskData } from '../data/dataset.js';
import { LOSS_COUNT, LOSS_METRIC, LOSS_STATS_LENGTH, LOSS_SUM } from '../kernels/types.js';
import { isClassification } from '../data/task-spec.js';
import type { GradientDiagnostics } from '../strategies/index.js';
import type { EarlyStoppingVerdict } from './early-stopping.js';
import type { StepTiming } from './profile.js';

/** One task's loss and metric over some rows. */
export interface TaskMetrics {
  /** Mean loss over labelled rows (regression: on the standardized target). */
  loss: number;
  /** Accuracy for classification, RMSE in the target's own units for regression. */
  metric: number;
  metricName: 'accuracy' | 'rmse';
  /** Labelled entries the figures cover. */
  labelled: number;
}

export type TaskMetricsByName = Record<string, TaskMetrics>;

/**
 * Sums of [loss, labelled count, metric] per task (the loss kernels' statistics)
 * over any number of batches or shards, turned into means at the end.
 */
export class LossTotals {
  readonly sums: Float64Array;

  constructor(readonly tasks: readonly TaskData[]) {
    this.sums = new Float64Array(tasks.length * LOSS_STATS_LENGTH);
  }

  add(task: number, lossSum: number, count: number, metricSum: number): void {
    const at = task * LOSS_STATS_LENGTH;
    this.sums[at + LOSS_SUM] += lossSum;
    this.sums[at + LOSS_COUNT] += count;
    this.sums[at + LOSS_METRIC] += metricSum;
  }

  addAll(other: LossTotals): void {
    for (let i = 0; i < this.sums.length; i++) this.sums[i] += other.sums[i];
  }

  /** Mean loss per task name (NaN when a task had no labelled rows). */
  means(): Record<string, number> {
    const out: Record<string, number> = {};
    this.tasks.forEach((task, t) => {
      const at = t * LOSS_STATS_LENGTH;
      out[task.name] = this.sums[at + LOSS_COUNT] > 0 ? this.sums[at + LOSS_SUM] / this.sums[at + LOSS_COUNT] : NaN;
    });
    return out;
  }

  reset(): void {
    this.sums.fill(0);
  }

  /** Means per task; NaN where a task had no labelled rows. */
  summary(): TaskMetricsByName {
    const out: TaskMetricsByName = {};
    this.tasks.forEach((task, t) => {
      const at = t * LOSS_STATS_LENGTH;
      const loss = this.sums[at + LOSS_SUM], count = this.sums[at + LOSS_COUNT], metric = this.sums[at + LOSS_METRIC];
      const classification = isClassification(task.loss);
      out[task.name] = {
        loss: count > 0 ? loss / count : NaN,
        metric: count === 0 ? NaN : classification ? metric / count : Math.sqrt(metric / count) * (task.targetStd ?? 1),
        metricName: classification ? 'accuracy' : 'rmse',
        labelled: count,
      };
    });
    return out;
  }
}

/** What `fit` reports after each epoch. */
export interface EpochReport {
  /** 0-based, like `Trainer.epoch` and checkpoints; the CLI prints it 1-based ("epoch 1/30"). */
  epoch: number;
  /** With config.earlyStopping: whether this epoch improved, the best so far, and whether the run stops here. */
  earlyStopping?: EarlyStoppingVerdict;
  steps: number;
  seconds: number;
  stepsPerSecond: number;
  /** mean milliseconds per step, by part (see profile.ts) */
  timing: StepTiming;
  /** gradient diagnostics averaged over the epoch (per-task plans only) */
  diagnostics?: GradientDiagnostics;
  /** e.g. "conflict: species↔sex cos −0.31" */
  conflict?: string;
  train: TaskMetricsByName;
  validation: TaskMetricsByName;
  /**
   * mmoe, ple: each gate's mean expert weights at the epoch's end (gate name →
   * expert name → weight), over the validation rows (the training rows without any)
   */
  gates?: Record<string, Record<string, number>>;
}

/** What `fit` reports after each step. */
export interface StepReport {
  step: number;
  epoch: number;
  /** batch mean loss per task */
  losses: Record<string, number>;
  /** true when a non-finite value made the step be dropped */
  skipped?: boolean;
  timing: StepTiming;
  /** per-task gradient norms, pairwise cosines, conflicts, strategy weights (per-task plans only) */
  diagnostics?: GradientDiagnostics;
}
