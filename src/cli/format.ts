import type { TaskSummary } from '../trainer/run-format.js';
import type { EpochReport, TaskMetrics, TaskMetricsByName } from '../trainer/metrics.js';
import { PROFILE_PARTS, type Profile } from '../trainer/profile.js';
import { PLAIN, type Style } from './style.js';

import { num } from '../util/number-format.js';

export { num };

/** Seconds as `0.42 s`, `12.3 s`, `4 min 05 s`. */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '—';
  if (seconds < 10) return `${seconds.toFixed(2)} s`;
  if (seconds < 120) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  return `${m} min ${String(Math.round(seconds - 60 * m)).padStart(2, '0')} s`;
}

function metricLabel(m: TaskMetrics): string {
  return m.metricName === 'accuracy' ? 'acc' : 'rmse';
}

/** `species loss 0.412/0.380 acc 0.930/0.961`: training / validation. */
function taskPart(name: string, train: TaskMetrics, validation: TaskMetrics | undefined, style: Style): string {
  const val = validation ?? { loss: NaN, metric: NaN };
  return `${style.bold(name)} loss ${num(train.loss)}/${num(val.loss)} ${metricLabel(train)} ${num(train.metric)}/${num(val.metric)}`;
}

/** One line per epoch: every task's training/validation loss and metric, the speed, and the epoch's worst conflict. */
export function epochLine(report: EpochReport, epochs: number, style: Style = PLAIN): string {
  const width = String(epochs).length;
  const sep = style.dim(' | ');
  const tasks = Object.keys(report.train).map((name) => taskPart(name, report.train[name], report.validation[name], style));
  const parts = [`epoch ${String(report.epoch + 1).padStart(width)}/${epochs}`, ...tasks, `${report.stepsPerSecond.toFixed(1)} steps/s`];
  if (report.conflict) parts.push(report.conflict);
  return parts.join(sep);
}

/** Rows of cells as aligned columns (two spaces apart); the first row is the header. */
export function table(rows: string[][], style: Style = PLAIN, rightAlign: readonly number[] = []): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => visibleLength(r[i] ?? ''))));
  const line = (cells: string[]) => cells.map((c, i) => {
    const pad = ' '.repeat(Math.max(0, widths[i] - visibleLength(c)));
    return rightAlign.includes(i) ? pad + c : c + pad;
  }).join('  ').trimEnd();
  return [style.bold(line(rows[0])), ...rows.slice(1).map(line)].join('\n');
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

function visibleLength(s: string): number {
  return s.replace(ANSI, '').length;
}

/**
 * The closing table: per task the metric, its best and final validation value
 * over the run, the final validation loss and labelled rows; then the speed.
 */
export function summaryTable(tasks: readonly TaskSummary[], validation: TaskMetricsByName,
  timing: { steps: number; seconds: number; wallSeconds: number }, style: Style = PLAIN): string {
  const rows = [['task', 'metric', 'best val', 'final val', 'val loss', 'labelled']];
  for (const t of tasks) {
    const v = validation[t.name];
    rows.push([t.name, t.metricName, num(t.bestValidation), num(t.finalValidation), num(v?.loss), String(v?.labelled ?? '—')]);
  }
  const rate = timing.steps / Math.max(timing.seconds, 1e-9);
  return `${table(rows, style, [2, 3, 4, 5])}\n${timing.steps} steps in ${duration(timing.seconds)} (${rate.toFixed(1)} steps/s); wall time ${duration(timing.wallSeconds)}`;
}

/** Where the gradient jobs ran and, when computeOn auto chose, the timings it chose by. */
export function placementLine(p: { placement: string; workersMs?: number; coordinatorMs?: number }): string {
  if (p.placement === 'deciding') {
    // a short run can end while auto still warms the threads up: say no more than that it had not chosen
    return '  gradient jobs computed while computeOn auto was still timing the worker threads and the coordinator thread (the run ended before it chose)';
  }
  const where = p.placement === 'coordinator' ? 'on the coordinator thread' : 'on the worker threads';
  const timed = p.workersMs !== undefined && p.coordinatorMs !== undefined
    ? ` (computeOn auto: median step ${p.workersMs.toFixed(3)} ms on the workers, ${p.coordinatorMs.toFixed(3)} ms on the coordinator)`
    : '';
  return `  gradient jobs computed ${where}${timed}`;
}

/** How many steps the worker threads ran back to back (src/protocol/step-loop.ts); empty when none. */
export function stepLoopLine(stats: { steps: number; chunks: number; stoppedEarly: number }, steps: number): string {
  if (stats.steps === 0) return '';
  const early = stats.stoppedEarly > 0 ? `; ${stats.stoppedEarly} stopped early at a step the coordinator then took alone` : '';
  return `  ${stats.steps} of ${steps} steps ran back to back on the worker threads, in ${stats.chunks} chunks, each thread reducing and updating its slice of the parameters${early}`;
}

/** Where a step's time went: milliseconds per step and share of the step, by part. */
export function profileTable(profile: Profile): string {
  const ms = profile.perStep();
  const lines = [`profile over ${profile.steps} steps (ms per step):`];
  for (const part of PROFILE_PARTS) {
    const share = ms.total > 0 ? (100 * ms[part]) / ms.total : 0;
    lines.push(`  ${part.padEnd(10)} ${ms[part].toFixed(3).padStart(9)}  ${share.toFixed(1).padStart(5)}%`);
  }
  lines.push(`  ${'total'.padEnd(10)} ${ms.total.toFixed(3).padStart(9)}`);
  // reduce and optimizer run on the coordinator, or split over the threads when steps run back to back
  lines.push(`  overhead (transport + reduce + combine + optimizer): ${(100 * profile.overheadFraction()).toFixed(1)}%`);
  lines.push(`  serial part (all but worker compute): ${(ms.total > 0 ? 100 * (1 - ms.compute / ms.total) : 0).toFixed(1)}%`);
  const byWorker = profile.computeByWorker();
  if (byWorker.length > 1) {
    // a slower thread (a busier core) leaves the others waiting at the barriers: the idle part;
    // a thread with no shard (fewer shards than threads) computes nothing and is left out of the spread
    const busy = byWorker.filter((ms) => ms > 0);
    const spread = busy.length > 1 ? `; the slowest ${(Math.max(...busy) / Math.min(...busy)).toFixed(2)}× the fastest` : '';
    lines.push(`  compute by worker thread (steps run back to back): ${byWorker.map((ms) => ms.toFixed(3)).join(' / ')} ms${spread}`);
  }
  return lines.join('\n');
}
