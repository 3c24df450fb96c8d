import type { EpochReport, TaskMetrics, TaskMetricsByName } from '../trainer/metrics.js';
import { PROFILE_PARTS, type Profile } from '../trainer/profile.js';

function num(x: number): string {
  if (!Number.isFinite(x)) return '—';
  const a = Math.abs(x);
  if (a >= 1000) return x.toFixed(0);
  if (a >= 100) return x.toFixed(1);
  return x.toFixed(3);
}

function metricLabel(m: TaskMetrics): string {
  return m.metricName === 'accuracy' ? 'acc' : 'rmse';
}

/** `species loss 0.412/0.380 acc 0.930/0.961`: training / validation. */
function taskPart(name: string, train: TaskMetrics, validation: TaskMetrics | undefined): string {
  const val = validation ?? { loss: NaN, metric: NaN };
  return `${name} loss ${num(train.loss)}/${num(val.loss)} ${metricLabel(train)} ${num(train.metric)}/${num(val.metric)}`;
}

/** One line per epoch: every task's training/validation loss and metric, and the speed. */
export function epochLine(report: EpochReport, epochs: number): string {
  const width = String(epochs).length;
  const tasks = Object.keys(report.train).map((name) => taskPart(name, report.train[name], report.validation[name]));
  return `epoch ${String(report.epoch + 1).padStart(width)}/${epochs} | ${tasks.join(' | ')} | ${report.stepsPerSecond.toFixed(1)} steps/s`;
}

/** The closing table: validation loss and metric per task. */
export function summaryTable(validation: TaskMetricsByName): string {
  const rows = Object.entries(validation).map(([name, m]) => [name, num(m.loss), `${m.metricName} ${num(m.metric)}`, String(m.labelled)]);
  const header = ['task', 'val loss', 'val metric', 'labelled'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
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
  lines.push(`  coordinator overhead (transport + reduce + combine + optimizer): ${(100 * profile.overheadFraction()).toFixed(1)}%`);
  return lines.join('\n');
}
