import type { TaskData } from '../data/dataset.js';
import { LOSS_COUNT, LOSS_METRIC, LOSS_STATS_LENGTH, LOSS_SUM, LOSS_WEIGHT } from '../kernels/types.js';
import { isClassification } from '../data/task-spec.js';
import type { GradientDiagnostics } from '../strategies/index.js';
import type { EarlyStoppingVerdict } from './early-stopping.js';
import type { StepTiming } from './profile.js';

/** One task's loss and metric over some rows. */
export interface TaskMetrics {
  /**
   * Mean loss over labelled rows (regression: on the standardized target); with
   * cross_entropy class weights the weighted mean Σ w·ℓ / Σ w, as PyTorch reports it.
   */
  loss: number;
  /** Accuracy for classification, RMSE in the target's own units for regression. */
  metric: number;
  metricName: 'accuracy' | 'rmse';
  /** Labelled entries the figures cover. */
  labelled: number;
}

export type TaskMetricsByName = Record<string, TaskMetrics>;

/**
 * Sums of [loss, labelled count, metric, weight] per task (the loss kernels'
 * statistics) over any number of batches or shards, turned into means at the end:
 * the loss over the summed weights, the metric over the labelled count.
 */
export class LossTotals {
  readonly sums: Float64Array;

  constructor(readonly tasks: readonly TaskData[]) {
    this.sums = new Float64Array(tasks.length * LOSS_STATS_LENGTH);
  }

  /** Adds a loss kernel's statistics for `task`: LOSS_STATS_LENGTH values of `stats` from `offset`. */
  add(task: number, stats: ArrayLike<number>, offset = 0): void {
    const at = task * LOSS_STATS_LENGTH;
    for (let i = 0; i < LOSS_STATS_LENGTH; i++) this.sums[at + i] += stats[offset + i];
  }

  addAll(other: LossTotals): void {
    for (let i = 0; i < this.sums.length; i++) this.sums[i] += other.sums[i];
  }

  /** Mean loss per task name (NaN when a task had no labelled rows). */
  means(): Record<string, number> {
    const out: Record<string, number> = {};
    this.tasks.forEach((task, t) => {
      const at = t * LOSS_STATS_LENGTH;
      out[task.name] = meanLoss(this.sums, at);
    });
    return out;
  }

  reset(): void {
    this.sums.fill(0);
  }

  /**
   * Replaces the sums with saved ones (a checkpoint's); false when they do not fit.
   * Checkpoints written before the weight statistic hold 3 values per task, whose
   * weight is their count.
   */
  load(saved: Float64Array): boolean {
    const tasks = this.tasks.length;
    if (saved.length === this.sums.length) {
      this.sums.set(saved);
      return true;
    }
    if (saved.length !== tasks * LOSS_WEIGHT) return false;
    for (let t = 0; t < tasks; t++) {
      const at = t * LOSS_STATS_LENGTH;
      this.sums.set(saved.subarray(t * LOSS_WEIGHT, (t + 1) * LOSS_WEIGHT), at);
      this.sums[at + LOSS_WEIGHT] = this.sums[at + LOSS_COUNT];
    }
    return true;
  }

  /** Means per task; NaN where a task had no labelled rows. */
  summary(): TaskMetricsByName {
    const out: TaskMetricsByName = {};
    this.tasks.forEach((task, t) => {
      const at = t * LOSS_STATS_LENGTH;
      const count = this.sums[at + LOSS_COUNT], metric = this.sums[at + LOSS_METRIC];
      const classification = isClassification(task.loss);
      out[task.name] = {
        loss: meanLoss(this.sums, at),
        metric: count === 0 ? NaN : classification ? metric / count : Math.sqrt(metric / count) * (task.targetStd ?? 1),
        metricName: classification ? 'accuracy' : 'rmse',
        labelled: count,
      };
    });
    return out;
  }
}

/** The mean loss of the statistics at `at`: Σ loss ÷ Σ weight (NaN without labelled rows, or with zero weight). */
function meanLoss(sums: Float64Array, at: number): number {
  return sums[at + LOSS_COUNT] > 0 && sums[at + LOSS_WEIGHT] > 0 ? sums[at + LOSS_SUM] / sums[at + LOSS_WEIGHT] : NaN;
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
