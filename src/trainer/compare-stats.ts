/**
 * The figures of a comparison (`multitask compare`), shared by its console
 * table (cli/compare.ts) and its HTML report (report/), so both show the same.
 *
 * Δm% (Maninis et al. 2019; Liu et al. 2021): the mean over tasks of the
 * relative change of the final validation metric against the baseline run
 * (`sum`), signed so that positive is better:
 *   Δm% = 100/T · Σ_t s_t · (m_t − m_t^sum) / m_t^sum,  s_t = +1 for accuracy, −1 for RMSE.
 * A task whose baseline metric is 0 (or not finite) is left out of the mean.
 *
 * Mean conflict: the mean over steps of the number of task pairs whose
 * gradients have a negative cosine (from the step diagnostics); '—' for runs
 * whose plan never sees per-task gradients (sum on the fused plan).
 */
import { num } from '../util/number-format.js';
import type { RunSummary } from './run-format.js';

export interface CompareRow {
  label: string;
  /** the run's seed (`--seeds`: one row per strategy and seed) */
  seed?: number;
  strategy: string;
  dir: string;
  /** task → final validation metric (accuracy or RMSE), null when not finite */
  metrics: Record<string, number | null>;
  metricNames: Record<string, 'accuracy' | 'rmse'>;
  deltaM: number | null;
  /** the training loop's time (summary.json `seconds`: the epochs' steps, evaluation and setup not included) */
  seconds: number;
  /** the run's wall-clock time as the comparison measured it (setup, worker start and evaluation included); the console's "time" */
  wallSeconds: number;
  stepsPerSecond: number;
  steps: number;
  meanConflicts: number | null;
}

/** Δm% of `row` against `baseline` (see the module comment); null when no task can be compared. */
export function deltaM(row: Pick<CompareRow, 'metrics' | 'metricNames'>, baseline: Pick<CompareRow, 'metrics'>): number | null {
  let sum = 0;
  let count = 0;
  for (const [task, m] of Object.entries(row.metrics)) {
    const b = baseline.metrics[task];
    if (m === null || b === null || b === undefined || b === 0) continue;
    const sign = row.metricNames[task] === 'accuracy' ? 1 : -1;
    sum += (sign * (m - b)) / Math.abs(b);
    count++;
  }
  return count === 0 ? null : (100 * sum) / count;
}

/** A comparison row from a finished run's summary; Δm% is set by `applyDeltaM`. */
export function compareRow(label: string, dir: string, summary: RunSummary, wallSeconds: number): CompareRow {
  const metrics: Record<string, number | null> = {};
  const metricNames: Record<string, 'accuracy' | 'rmse'> = {};
  for (const t of summary.tasks) {
    metrics[t.name] = t.finalValidation;
    metricNames[t.name] = t.metricName;
  }
  return {
    label,
    strategy: summary.strategy,
    dir,
    metrics,
    metricNames,
    deltaM: null,
    seconds: summary.seconds,
    wallSeconds,
    stepsPerSecond: summary.stepsPerSecond,
    steps: summary.steps,
    meanConflicts: typeof summary.meanConflicts === 'number' ? summary.meanConflicts : null,
  };
}

/** The baseline of a comparison: the `sum` run, or the first run without one. */
export function baselineLabel(rows: readonly Pick<CompareRow, 'label'>[]): string {
  return rows.some((r) => r.label === 'sum') ? 'sum' : rows[0].label;
}

/** Sets every row's Δm% against the baseline run of the same seed; returns the baseline's label. */
export function applyDeltaM(rows: CompareRow[]): string {
  const baseline = baselineLabel(rows);
  for (const r of rows) {
    const b = rows.find((x) => x.label === baseline && x.seed === r.seed);
    r.deltaM = b ? deltaM(r, b) : null;
  }
  return baseline;
}

/** The Δm% column's header, the same in the console and the report. */
export const deltaMHeader = (baseline: string | undefined): string => (baseline === 'sum' ? 'Δm%' : `Δm% vs ${baseline ?? '—'}`);

/** +1.2, −0.3, 0.0 (a value that rounds to zero has no sign). */
export const signed = (x: number | null): string => {
  if (x === null || !Number.isFinite(x)) return '—';
  const digits = Math.abs(x).toFixed(1);
  return `${Number(digits) === 0 ? '' : x > 0 ? '+' : '−'}${digits}`;
};

/** Mean conflicting pairs per step as a table cell: 0.42, or — without per-task gradients. */
export const conflictsCell = (x: number | null): string => (x === null || !Number.isFinite(x) ? '—' : x.toFixed(2));

/** mean ± sample standard deviation, and n (0 values: NaN). */
export function meanStd(values: readonly number[]): { mean: number; std: number; n: number } {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, n };
}

/** What the `*` after a Δm% over seeds means, in the console and the report. */
export const SEED_SPREAD_RULE = '* where |mean Δm%| is more than twice its standard error, a difference larger than the seed spread';

export interface SeedAggregate {
  label: string;
  metrics: Record<string, { mean: number; std: number; n: number }>;
  metricNames: Record<string, 'accuracy' | 'rmse'>;
  deltaM: { mean: number; std: number; n: number } | null;
  /** |mean Δm%| > 2·std/√n: the difference is larger than the spread over seeds */
  beyondSeedSpread: boolean;
}

/** Per strategy, over its seeds: each metric's and Δm%'s mean ± standard deviation. */
export function aggregateSeeds(rows: readonly CompareRow[]): SeedAggregate[] {
  const labels = [...new Set(rows.map((r) => r.label))];
  return labels.map((label) => {
    const mine = rows.filter((r) => r.label === label);
    const finite = (xs: (number | null)[]) => xs.filter((x): x is number => x !== null && Number.isFinite(x));
    const metrics = Object.fromEntries(Object.keys(mine[0].metrics).map((t) => [t, meanStd(finite(mine.map((r) => r.metrics[t])))]));
    const deltas = finite(mine.map((r) => r.deltaM));
    const deltaM = deltas.length > 0 ? meanStd(deltas) : null;
    const beyondSeedSpread = deltaM !== null && deltaM.n > 1 && Math.abs(deltaM.mean) > (2 * deltaM.std) / Math.sqrt(deltaM.n);
    return { label, metrics, metricNames: mine[0].metricNames, deltaM, beyondSeedSpread };
  });
}

/** A metric over seeds as a cell: `0.985 ± 0.015` ('—' without a value). */
export const seedMetricCell = (m: { mean: number; std: number; n: number } | undefined): string =>
  (m && m.n > 0 ? `${num(m.mean)} ± ${num(m.std)}` : '—');

/** A strategy's Δm% over seeds as a cell: `+1.2 ± 0.3 *` (see SEED_SPREAD_RULE). */
export const seedDeltaMCell = (r: SeedAggregate): string =>
  (r.deltaM ? `${signed(r.deltaM.mean)} ± ${r.deltaM.std.toFixed(1)}${r.beyondSeedSpread ? ' *' : ''}` : '—');

/** The number of seeds a strategy's figures cover. */
export const seedCount = (r: SeedAggregate): number => r.deltaM?.n ?? Object.values(r.metrics)[0]?.n ?? 0;
