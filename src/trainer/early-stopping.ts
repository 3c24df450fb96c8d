/**
 * Early stopping on a validation metric, and the best weights so far.
 *
 * `on` names what is watched after every epoch:
 * - `<task>:<metric>`: that task's validation `loss`, or its metric
 *   (`accuracy` for classification, higher is better; `rmse` for regression,
 *   lower is better);
 * - `mean`: the mean relative change of every task's validation metric since
 *   the first epoch, signed so that higher is better (Δm% of the epoch against
 *   epoch 1: (1/T)·Σ_t s_t·(m_t − m_t⁰)/|m_t⁰|, s = +1 for accuracy, −1 for rmse).
 *
 * An epoch improves when its score beats the best so far; after `patience`
 * epochs without an improvement the run stops. The best epoch's parameters are
 * kept (a copy) so the run can save them instead of the final ones. The state
 * is plain data, kept in checkpoints.
 */
import { UserError } from '../util/errors.js';

/** An epoch's validation figures by task (metrics.ts's TaskMetricsByName has these and more). */
export type ValidationFigures = Record<string, { loss: number; metric: number }>;

export interface EarlyStoppingSettings {
  on: string;
  patience: number;
}

export interface EarlyStoppingState {
  /** best score so far (higher is better); null before the first epoch */
  best: number | null;
  /** 0-based epoch of the best score */
  bestEpoch: number;
  /** epochs since the best */
  waited: number;
  /** `mean`: every task's metric after the first epoch */
  baseline: number[] | null;
  /** the parameters at the best epoch */
  bestParams: Float32Array | null;
}

export interface EarlyStoppingVerdict {
  improved: boolean;
  stop: boolean;
  best: number;
  bestEpoch: number;
}

/** The metric a task reports: accuracy for classification, rmse for regression. */
export type TaskMetricName = 'accuracy' | 'rmse';

export class EarlyStopping {
  private readonly task: string | undefined;
  private readonly metric: 'loss' | TaskMetricName | undefined;
  state: EarlyStoppingState = { best: null, bestEpoch: 0, waited: 0, baseline: null, bestParams: null };

  /** UserError when `on` names no task, or a metric the task does not report. */
  constructor(readonly settings: EarlyStoppingSettings, private readonly tasks: readonly { name: string; metric: TaskMetricName }[]) {
    if (settings.on === 'mean') return;
    const [task, metric, ...rest] = settings.on.split(':');
    const found = tasks.find((t) => t.name === task);
    const expected = `<task>:<metric> with a task of ${tasks.map((t) => t.name).join(', ')} and its metric (loss, or accuracy/rmse), or mean`;
    if (!found || rest.length > 0) throw new UserError(`earlyStopping.on: ${JSON.stringify(settings.on)} is not ${expected}`);
    if (metric !== 'loss' && metric !== found.metric) {
      throw new UserError(`earlyStopping.on: task ${task} reports loss and ${found.metric}, not ${JSON.stringify(metric)}`);
    }
    this.task = task;
    this.metric = metric;
  }

  /** The epoch's score, higher is better. */
  score(validation: ValidationFigures): number {
    if (this.task !== undefined) {
      const m = validation[this.task];
      const value = this.metric === 'loss' ? m.loss : m.metric;
      return this.metric === 'accuracy' ? value : -value;
    }
    const values = this.tasks.map((t) => validation[t.name].metric);
    this.state.baseline ??= values;
    const base = this.state.baseline;
    const deltas = this.tasks.map((t, i) => (t.metric === 'accuracy' ? 1 : -1) * (values[i] - base[i]) / Math.max(Math.abs(base[i]), 1e-12));
    return deltas.reduce((a, b) => a + b, 0) / deltas.length;
  }

  /** After epoch `epoch` (0-based): keeps `params` when it improved; says whether to stop. */
  update(epoch: number, validation: ValidationFigures, params: Float32Array): EarlyStoppingVerdict {
    const s = this.state;
    const score = this.score(validation);
    // NaN never improves (a task without validation rows, a diverged run)
    const improved = Number.isFinite(score) && (s.best === null || score > s.best);
    if (improved) {
      s.best = score;
      s.bestEpoch = epoch;
      s.waited = 0;
      if (!s.bestParams || s.bestParams.length !== params.length) s.bestParams = new Float32Array(params.length);
      s.bestParams.set(params);
    } else s.waited++;
    return { improved, stop: s.waited >= this.settings.patience, best: s.best ?? NaN, bestEpoch: s.bestEpoch };
  }

  restore(saved: unknown, source: string): void {
    const s = saved as EarlyStoppingState | undefined;
    const ok = s && typeof s === 'object' && (s.best === null || typeof s.best === 'number') && Number.isSafeInteger(s.bestEpoch)
      && Number.isSafeInteger(s.waited) && (s.bestParams === null || s.bestParams instanceof Float32Array)
      && (s.baseline === null || Array.isArray(s.baseline));
    if (!ok) throw new UserError(`${source}: holds no early-stopping state (was it written with early stopping on?)`);
    this.state = { best: s.best, bestEpoch: s.bestEpoch, waited: s.waited, baseline: s.baseline, bestParams: s.bestParams };
  }
}

/** `--early-stopping <task>:<metric>[:patience]` or `mean[:patience]` → the config's settings. */
export function parseEarlyStopping(text: string, option = '--early-stopping'): EarlyStoppingSettings {
  const parts = text.split(':');
  const last = parts[parts.length - 1];
  const hasPatience = /^\d+$/.test(last) && parts.length > 1;
  const patience = hasPatience ? Number(last) : 5;
  const on = (hasPatience ? parts.slice(0, -1) : parts).join(':');
  if (!(patience >= 1) || on === '' || (on !== 'mean' && on.split(':').length !== 2)) {
    throw new UserError(`${option}: ${JSON.stringify(text)} is not <task>:<metric>[:patience] or mean[:patience] (e.g. species:accuracy:5)`);
  }
  return { on, patience };
}
