/** Writes a synthetic run directory in the run format, as the trainer would. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { metricsLine, type MetricsRecord, type RunSummary } from '../../src/trainer/run-format.js';

export interface SyntheticRun {
  dir: string;
  tasks?: { name: string; metricName: 'accuracy' | 'rmse' }[];
  strategy?: string;
  name?: string;
  epochs?: number;
  stepsPerEpoch?: number;
  /** extra raw lines appended to metrics.jsonl (malformed ones, unknown types) */
  extraLines?: string[];
  weights?: boolean;
  timing?: boolean;
  summary?: boolean;
  seed?: number;
  /** shifts the final validation metrics: accuracy + quality, RMSE × (1 − quality) (default 0) */
  quality?: number;
}

export const DEFAULT_TASKS = [
  { name: 'species', metricName: 'accuracy' as const },
  { name: 'sex', metricName: 'accuracy' as const },
  { name: 'mass', metricName: 'rmse' as const },
];

export function writeSyntheticRun(o: SyntheticRun): { records: MetricsRecord[]; summary: RunSummary } {
  const tasks = o.tasks ?? DEFAULT_TASKS;
  const epochs = o.epochs ?? 4;
  const stepsPerEpoch = o.stepsPerEpoch ?? 25;
  let seed = o.seed ?? 1;
  const noise = () => { seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0; return seed / 2 ** 32 - 0.5; };
  const records: MetricsRecord[] = [];
  const lines: string[] = [];
  const push = (r: MetricsRecord) => { records.push(r); lines.push(metricsLine(r)); };
  const metric = (t: { metricName: string }, e: number, val: boolean) =>
    t.metricName === 'accuracy' ? 0.5 + 0.4 * (1 - Math.exp(-e)) - (val ? 0.03 : 0) : 800 * Math.exp(-e / 2) + 200 + (val ? 20 : 0);
  let step = 0;
  let conflictSum = 0;
  for (let epoch = 0; epoch < epochs; epoch++) {
    for (let s = 0; s < stepsPerEpoch; s++) {
      step++;
      const losses: Record<string, number> = {};
      const weights: Record<string, number> = {};
      const norms: Record<string, number> = {};
      tasks.forEach((t, i) => {
        losses[t.name] = (1 + i) * Math.exp(-step / 60) + 0.05 * noise() + 0.1;
        weights[t.name] = 1 / tasks.length + 0.1 * Math.sin(step / 20 + i);
        norms[t.name] = 2 * Math.exp(-step / 100) + 0.1 * (i + 1);
      });
      const cosines: Record<string, number> = {};
      for (let a = 0; a < tasks.length; a++) {
        for (let b = a + 1; b < tasks.length; b++) cosines[`${tasks[a].name}|${tasks[b].name}`] = Math.max(-1, Math.min(1, Math.cos(step / 30 + a + 2 * b) * 0.8 + 0.2 * noise()));
      }
      conflictSum += Object.values(cosines).filter((c) => c < 0).length;
      const compute = 4 + noise();
      const idle = 0.5 + noise() / 4;
      push({
        type: 'step', step, epoch, losses,
        ...(o.weights === false ? {} : { weights }),
        cosines, norms,
        conflicts: Object.values(cosines).filter((c) => c < 0).length,
        ...(o.timing === false ? {} : {
          timing: { compute, transport: 0.4, reduce: 0.2, combine: 0.1, optimizer: 0.3, idle, total: compute + 1 + idle },
        }),
      });
    }
    for (const split of ['train', 'validation'] as const) {
      const evals: Record<string, { loss: number; metric: number; metricName: 'accuracy' | 'rmse' }> = {};
      tasks.forEach((t, i) => {
        evals[t.name] = { loss: (1 + i) * Math.exp(-(epoch + 1) / 2) + (split === 'validation' ? 0.05 : 0), metric: metric(t, epoch + 1, split === 'validation'), metricName: t.metricName };
      });
      push({ type: 'eval', epoch, step, split, tasks: evals });
    }
  }
  const q = o.quality ?? 0;
  const final = (t: { metricName: string }) => (t.metricName === 'accuracy' ? metric(t, epochs, true) + q : metric(t, epochs, true) * (1 - q));
  const summary: RunSummary = {
    name: o.name ?? 'synthetic',
    strategy: o.strategy ?? 'sum',
    tasks: tasks.map((t) => ({
      name: t.name, metricName: t.metricName,
      bestValidation: final(t), finalValidation: final(t),
    })),
    meanConflicts: conflictSum / step,
    steps: step,
    seconds: step * 0.006,
    stepsPerSecond: 1 / 0.006,
    epochs,
    workers: 2,
  };
  mkdirSync(o.dir, { recursive: true });
  writeFileSync(join(o.dir, 'config.json'), JSON.stringify({ strategy: { name: summary.strategy }, seed: 1, tasks: tasks.map((t) => t.name) }, null, 2));
  if (o.summary !== false) writeFileSync(join(o.dir, 'summary.json'), JSON.stringify(summary, null, 2));
  writeFileSync(join(o.dir, 'metrics.jsonl'), [...lines, ...(o.extraLines ?? [])].join('\n') + '\n');
  return { records, summary };
}
