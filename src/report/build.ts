/** Turns runs (streamed records and summaries) into ReportDocuments. */
import { Downsampler, downsample } from './downsample.js';
import type { Chart, LineChart, LineSeries, ReportDocument, Section, StackedChart, Table } from './document.js';
import { Ema, SMOOTHING, smoothingNote } from './smooth.js';
import { TIMING_PARTS, type EvalRecord, type MetricName, type MetricsRecord, type RunSummary } from '../trainer/run-format.js';
import {
  aggregateSeeds, applyDeltaM, compareRow, conflictsCell, deltaMHeader, seedCount, seedDeltaMCell, seedMetricCell, signed, SEED_SPREAD_RULE,
  type CompareRow,
} from '../trainer/compare-stats.js';

export interface BuildOptions {
  /** most points per step series (default 1000) */
  maxPoints?: number;
  /** most bars / heatmap columns over time (default 60) */
  maxBins?: number;
  /** the EMA factor of the smoothed per-step lines, in [0, 1) (default 0.9; 0: no smoothing) */
  smoothing?: number;
}

/** Five significant digits, null for non-finite: keeps the embedded data small. */
const sig = (v: number): number | null => (Number.isFinite(v) ? Number(v.toPrecision(5)) : null);
const roundX = (v: number) => Math.round(v * 10) / 10;
const compact = (s: { x: number[]; y: (number | null)[] }) => ({ x: s.x.map(roundX), y: s.y.map((v) => (v === null ? null : sig(v))) });

/**
 * A Map from name to Downsampler, created on first use, in first-seen order;
 * with a smoothing factor, each series' EMA too (smooth.ts), downsampled alike.
 */
class SeriesSet {
  readonly map = new Map<string, Downsampler>();
  readonly smoothed = new Map<string, { ema: Ema; points: Downsampler }>();
  constructor(private readonly capacity: number, readonly smoothing = 0) {}
  add(name: string, x: number, y: number): void {
    let d = this.map.get(name);
    if (!d) this.map.set(name, (d = new Downsampler(this.capacity)));
    d.add(x, y);
    if (this.smoothing > 0) {
      let s = this.smoothed.get(name);
      if (!s) this.smoothed.set(name, (s = { ema: new Ema(this.smoothing), points: new Downsampler(this.capacity) }));
      s.points.add(x, s.ema.add(y));
    }
  }
  get size(): number {
    return this.map.size;
  }
  /** One series as drawn: the smoothed line over the faint raw one (or the raw line alone without smoothing). */
  line(name: string, maxPoints: number, label = name): LineSeries | null {
    const raw = this.map.get(name);
    if (!raw) return null;
    const smoothed = this.smoothed.get(name);
    return smoothed
      ? { name: label, ...compact(smoothed.points.series(maxPoints)), raw: compact(raw.series(maxPoints)) }
      : { name: label, ...compact(raw.series(maxPoints)) };
  }
}

const OTHER = 'other';

/** Everything a report needs from one run's records, in bounded memory. */
export class RunAccumulator {
  readonly tasks: string[] = [];
  private readonly taskSet = new Set<string>();
  readonly metricNames = new Map<string, MetricName>();
  readonly losses: SeriesSet;
  readonly weights: SeriesSet;
  readonly norms: SeriesSet;
  readonly cosines: SeriesSet;
  /** conflicting pairs per step, one series named "conflicts" */
  readonly conflicts: SeriesSet;
  readonly timing: SeriesSet;
  readonly timingTotals = new Map<string, number>();
  timedSteps = 0;
  readonly evals: EvalRecord[] = [];
  steps = 0;
  lastStep = 0;
  lastEpoch = 0;

  constructor(readonly summary: RunSummary | undefined, public label: string, capacity = 2000, smoothing = SMOOTHING) {
    this.losses = new SeriesSet(capacity, smoothing);
    this.weights = new SeriesSet(capacity, smoothing);
    this.norms = new SeriesSet(capacity, smoothing);
    this.cosines = new SeriesSet(capacity, smoothing);
    this.conflicts = new SeriesSet(capacity, smoothing);
    this.timing = new SeriesSet(capacity);
    for (const t of summary?.tasks ?? []) {
      this.task(t.name);
      this.metricNames.set(t.name, t.metricName);
    }
  }

  private task(name: string): void {
    if (!this.taskSet.has(name)) {
      this.taskSet.add(name);
      this.tasks.push(name);
    }
  }

  add(record: MetricsRecord): void {
    if (record.type === 'eval') {
      this.evals.push(record);
      for (const name of Object.keys(record.tasks)) {
        this.task(name);
        if (!this.metricNames.has(name)) this.metricNames.set(name, record.tasks[name].metricName);
      }
      return;
    }
    const x = record.step;
    this.steps++;
    this.lastStep = Math.max(this.lastStep, record.step);
    this.lastEpoch = Math.max(this.lastEpoch, record.epoch);
    for (const name of Object.keys(record.losses)) {
      this.task(name);
      this.losses.add(name, x, record.losses[name]);
    }
    for (const name of Object.keys(record.weights ?? {})) this.weights.add(name, x, record.weights![name]);
    for (const name of Object.keys(record.norms ?? {})) this.norms.add(name, x, record.norms![name]);
    for (const pair of Object.keys(record.cosines ?? {})) this.cosines.add(pair, x, record.cosines![pair]);
    if (record.conflicts !== undefined) this.conflicts.add('conflicts', x, record.conflicts);
    if (record.timing) {
      const t = record.timing;
      let parts = 0;
      for (const part of TIMING_PARTS) {
        const v = t[part];
        if (v === undefined) continue;
        parts += Number.isFinite(v) ? v : 0;
        this.timing.add(part, x, v);
        this.timingTotals.set(part, (this.timingTotals.get(part) ?? 0) + (Number.isFinite(v) ? v : 0));
      }
      // time the parts do not account for; rounding noise is not worth a category
      const gap = t.total !== undefined && Number.isFinite(t.total) ? t.total - parts : 0;
      const rest = gap > 1e-3 * Math.abs(t.total ?? 0) + 1e-9 ? gap : 0;
      this.timing.add(OTHER, x, rest);
      this.timingTotals.set(OTHER, (this.timingTotals.get(OTHER) ?? 0) + rest);
      this.timedSteps++;
    }
  }

  /** Per-split, per-task evaluation series in arrival order. */
  evalSeries(split: EvalRecord['split'], task: string, field: 'loss' | 'metric', x: 'step' | 'epoch', maxPoints: number): LineSeries | null {
    const xs: number[] = [];
    const ys: number[] = [];
    for (const e of this.evals) {
      if (e.split !== split || !(task in e.tasks)) continue;
      xs.push(x === 'step' ? e.step : e.epoch + 1);
      ys.push(e.tasks[task][field]);
    }
    if (xs.length === 0) return null;
    return { name: split, ...compact(downsample(xs, ys, maxPoints)), markers: xs.length <= 200 };
  }

  /**
   * mmoe, ple: each gate's mean expert weights per epoch (the validation
   * records' `gates`), one series per expert, by step.
   */
  gateSeries(maxPoints: number): { gate: string; series: LineSeries[] }[] {
    const records = this.evals.filter((e) => e.split === 'validation' && e.gates);
    const gates = [...new Set(records.flatMap((e) => Object.keys(e.gates!)))];
    return gates.map((gate) => {
      const experts = [...new Set(records.flatMap((e) => Object.keys(e.gates![gate] ?? {})))];
      return {
        gate,
        series: experts.map((expert) => {
          const points = records.filter((e) => e.gates![gate]?.[expert] !== undefined);
          const xs = points.map((e) => e.step);
          return { name: expert, ...compact(downsample(xs, points.map((e) => e.gates![gate][expert]), maxPoints)), markers: xs.length <= 200 };
        }),
      };
    });
  }

  lastEval(split: EvalRecord['split'], task: string): EvalRecord['tasks'][string] | undefined {
    for (let i = this.evals.length - 1; i >= 0; i--) {
      const e = this.evals[i];
      if (e.split === split && task in e.tasks) return e.tasks[task];
    }
    return undefined;
  }

  /** Best validation metric over the evaluations (max accuracy, min RMSE). */
  bestEval(task: string): number | undefined {
    const better = this.metricNames.get(task) === 'rmse' ? Math.min : Math.max;
    let best: number | undefined;
    for (const e of this.evals) {
      const m = e.split === 'validation' ? e.tasks[task]?.metric : undefined;
      if (m !== undefined && Number.isFinite(m)) best = best === undefined ? m : better(best, m);
    }
    return best;
  }
}

const metricLabel = (name: MetricName | undefined) => name ?? 'metric';
const pairLabel = (key: string) => key.split('|').join(' · ');

function lineChart(title: string, xLabel: string, yLabel: string, series: (LineSeries | null)[], extra: Partial<LineChart> = {}): LineChart | null {
  const present = series.filter((s): s is LineSeries => s !== null && s.x.length > 0);
  return present.length ? { kind: 'line', title, xLabel, yLabel, series: present, ...extra } : null;
}

function fromSet(set: SeriesSet, maxPoints: number, label: (name: string) => string = (n) => n): LineSeries[] {
  return [...set.map.keys()].map((name) => set.line(name, maxPoints, label(name))!);
}

/** What a chart of per-step lines says about their smoothing (nothing when there is none). */
const smoothingOf = (set: SeriesSet): Partial<LineChart> => (set.smoothing > 0 ? { note: smoothingNote(set.smoothing) } : {});

/** Step-time stacked bars over time: mean ms per step in each of ≤ maxBins bins. */
function timingChart(run: RunAccumulator, maxBins: number): StackedChart | null {
  if (run.timedSteps === 0) return null;
  const parts = [...TIMING_PARTS, OTHER].filter((p) => run.timing.map.has(p) && (p !== OTHER || (run.timingTotals.get(OTHER) ?? 0) > 0));
  const binned = parts.map((p) => run.timing.map.get(p)!.series(maxBins));
  const xs = binned[0].x;
  const x0: number[] = [];
  const x1: number[] = [];
  xs.forEach((x, i) => {
    const prev = i > 0 ? xs[i - 1] : x - (xs.length > 1 ? xs[1] - x : 1);
    const next = i + 1 < xs.length ? xs[i + 1] : x + (x - prev);
    x0.push(roundX((prev + x) / 2));
    x1.push(roundX((x + next) / 2));
  });
  return {
    kind: 'stacked', title: 'Step time breakdown', xLabel: 'step', yLabel: 'ms per step (mean)',
    categories: parts, x0, x1, values: binned.map((s) => s.y.map((v) => sig(v ?? 0) ?? 0)),
  };
}

function timingTable(runs: RunAccumulator[], labelColumn: string): Table | null {
  const timed = runs.filter((r) => r.timedSteps > 0);
  if (timed.length === 0) return null;
  const parts = [...TIMING_PARTS, OTHER].filter((p) => timed.some((r) => (r.timingTotals.get(p) ?? 0) > 0 || (p !== OTHER && r.timing.map.has(p))));
  return {
    title: 'Mean step time (ms)',
    columns: [{ label: labelColumn }, ...parts.map((p) => ({ label: p })), { label: 'total', better: 'min' as const }],
    rows: timed.map((r) => {
      const means = parts.map((p) => (r.timingTotals.get(p) ?? 0) / r.timedSteps);
      return [r.label, ...means.map(sig), sig(means.reduce((a, b) => a + b, 0))];
    }),
  };
}

function heatmap(run: RunAccumulator, maxBins: number): Chart | null {
  if (run.cosines.size === 0) return null;
  const rows = [...run.cosines.map.keys()];
  const binned = rows.map((k) => run.cosines.map.get(k)!.series(maxBins));
  const longest = binned.reduce((a, b) => (b.x.length > a.x.length ? b : a));
  const xs = longest.x;
  const x0 = xs.map((x, i) => roundX(i > 0 ? (xs[i - 1] + x) / 2 : x));
  const x1 = xs.map((x, i) => roundX(i + 1 < xs.length ? (x + xs[i + 1]) / 2 : x));
  // pairs logged over different spans: place each bin in the column whose centre is nearest
  const values = binned.map((s) => {
    const row: (number | null)[] = xs.map(() => null);
    s.x.forEach((x, i) => {
      let best = 0;
      for (let c = 1; c < xs.length; c++) if (Math.abs(xs[c] - x) < Math.abs(xs[best] - x)) best = c;
      row[best] = s.y[i] === null ? null : sig(s.y[i]!);
    });
    return row;
  });
  return { kind: 'heatmap', title: 'Gradient cosine per task pair over time', xLabel: 'step', rows: rows.map(pairLabel), x0, x1, values, min: -1, max: 1 };
}

const nonNull = <T>(items: (T | null)[]): T[] => items.filter((x): x is T => x !== null);

function scalarRows(summary: RunSummary): (string | number | null)[][] {
  const rows: (string | number | null)[][] = [];
  for (const key of Object.keys(summary)) {
    if (key === 'tasks') continue;
    const v = summary[key];
    if (typeof v === 'string' || typeof v === 'boolean') rows.push([key, String(v)]);
    else if (typeof v === 'number') rows.push([key, sig(v)]);
  }
  return rows;
}

/** The report of one run. */
export function buildRunDocument(run: RunAccumulator, options: BuildOptions & { config?: unknown; warnings?: string[] } = {}): ReportDocument {
  const maxPoints = options.maxPoints ?? 1000;
  const maxBins = options.maxBins ?? 60;
  const summary = run.summary;
  const sections: Section[] = [];

  const taskRows = run.tasks.map((task) => {
    const st = summary?.tasks.find((t) => t.name === task);
    const validation = run.lastEval('validation', task);
    return [
      task,
      metricLabel(run.metricNames.get(task)),
      sig(st?.bestValidation ?? run.bestEval(task) ?? NaN),
      sig(st?.finalValidation ?? validation?.metric ?? NaN),
      sig(validation?.loss ?? NaN),
      // the epoch's mean training loss, as the console prints it (not the last mini-batch's)
      sig(run.lastEval('train', task)?.loss ?? NaN),
    ];
  });
  const tables: Table[] = [{
    title: 'Tasks',
    columns: [{ label: 'task' }, { label: 'metric' }, { label: 'best validation' }, { label: 'final validation' },
      { label: 'final validation loss' }, { label: 'training loss (last epoch)' }],
    rows: taskRows,
  }];
  tables.push({
    title: 'Run',
    columns: [{ label: 'field' }, { label: 'value' }],
    rows: summary ? scalarRows(summary) : [['steps logged', run.steps], ['last step', run.lastStep], ['last epoch', run.lastEpoch + 1]],
  });
  sections.push({ title: 'Summary', tables, charts: [] });

  const taskCharts: Chart[] = [];
  for (const task of run.tasks) {
    const steps = run.losses.line(task, maxPoints, 'train (per step)');
    taskCharts.push(...nonNull([
      lineChart(`${task}: loss`, 'step', 'loss', [
        steps ? { ...steps, color: 5 } : null,
        relabel(run.evalSeries('train', task, 'loss', 'step', maxPoints), 'train (epoch)', 0),
        relabel(run.evalSeries('validation', task, 'loss', 'step', maxPoints), 'validation', 1),
      ], steps ? smoothingOf(run.losses) : {}),
      lineChart(`${task}: ${metricLabel(run.metricNames.get(task))}`, 'step', metricLabel(run.metricNames.get(task)), [
        relabel(run.evalSeries('train', task, 'metric', 'step', maxPoints), 'train', 0),
        relabel(run.evalSeries('validation', task, 'metric', 'step', maxPoints), 'validation', 1),
      ]),
    ]));
  }
  if (taskCharts.length) sections.push({ title: 'Losses and metrics', tables: [], charts: taskCharts });

  const gradientCharts = nonNull([
    lineChart('Gradient cosine per task pair', 'step', 'cosine', fromSet(run.cosines, maxPoints, pairLabel), { yMin: -1, yMax: 1, ...smoothingOf(run.cosines) }),
    heatmap(run, maxBins),
    lineChart('Gradient norm per task', 'step', 'L2 norm', fromSet(run.norms, maxPoints), smoothingOf(run.norms)),
    lineChart('Conflicting task pairs (negative cosine)', 'step', 'pairs', fromSet(run.conflicts, maxPoints), smoothingOf(run.conflicts)),
  ]);
  if (gradientCharts.length) {
    sections.push({
      title: 'Gradients', tables: [], charts: gradientCharts,
      note: 'Cosine similarity between two tasks\' gradients on the shared parameters: below 0 the tasks pull the trunk in conflicting directions.',
    });
  }
  const weights = lineChart('Strategy task weights', 'step', 'weight', fromSet(run.weights, maxPoints), smoothingOf(run.weights));
  if (weights) sections.push({ title: 'Strategy weights', tables: [], charts: [weights] });
  const gateCharts = nonNull(run.gateSeries(maxPoints).map(({ gate, series }) =>
    lineChart(`${gate}: mean expert weight`, 'step', 'weight', series, { yMin: 0, yMax: 1 })));
  if (gateCharts.length) {
    sections.push({
      title: 'Gates', tables: [], charts: gateCharts,
      note: 'Each gate\'s mean softmax weight per expert over the validation rows at every epoch\'s end: which task uses which expert.',
    });
  }
  const timing = timingChart(run, maxBins);
  if (timing) sections.push({ title: 'Step time', tables: nonNull([timingTable([run], 'run')]), charts: [timing] });

  const title = summary ? `${summary.name}` : run.label;
  return {
    kind: 'run',
    title: `multitask run: ${title}`,
    subtitle: summary
      ? `strategy ${summary.strategy} · ${run.tasks.length} tasks · ${summary.steps} steps in ${formatSeconds(summary.seconds)} (${sig(summary.stepsPerSecond)} steps/s)`
      : `${run.tasks.length} tasks · ${run.steps} steps logged (no summary.json yet)`,
    generated: new Date().toISOString(),
    warnings: options.warnings ?? [],
    sections,
    config: options.config === undefined ? undefined : JSON.stringify(options.config, null, 2),
  };
}

function relabel(s: LineSeries | null, name: string, color?: number): LineSeries | null {
  return s ? { ...s, name, ...(color === undefined ? {} : { color }) } : null;
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${Number(s.toPrecision(3))} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${Math.round(s - m * 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** Series names for runs: the strategy when every run has a different one, else the run name (and strategy). */
export function runLabels(runs: { summary?: RunSummary; fallback: string }[]): string[] {
  const strategies = runs.map((r) => r.summary?.strategy);
  if (strategies.every((s) => s !== undefined) && new Set(strategies).size === runs.length) return strategies as string[];
  return runs.map((r) => (r.summary ? `${r.summary.name} (${r.summary.strategy})` : r.fallback));
}

/** Options of a comparison report. */
export interface CompareBuildOptions extends BuildOptions {
  warnings?: string[];
  title?: string;
  /**
   * The comparison's rows (compare.json's `runs`), one per run in the same
   * order; without them each finished run's row is made from its summary.json
   * (its wall-clock time is then unknown).
   */
  comparison?: readonly CompareRow[];
}

/** Run labels of a comparison: the strategy label, and its seed when it ran over several. */
export function comparisonLabels(rows: readonly CompareRow[]): string[] {
  const seeds = new Set(rows.map((r) => r.seed));
  return rows.map((r) => (seeds.size > 1 ? `${r.label} · seed ${r.seed}` : r.label));
}

/** The comparison tables: one row per run, and over seeds (when there are several) one per strategy. */
function comparisonTables(runs: RunAccumulator[], tasks: string[], metricOf: (task: string) => MetricName | undefined, given?: readonly CompareRow[]): Table[] {
  // copies: Δm% is set here, against the baseline of the same seed, as the console does
  const rows: (CompareRow | undefined)[] = given
    ? given.map((r) => ({ ...r }))
    : runs.map((r) => (r.summary ? compareRow(r.label, '', r.summary, NaN) : undefined));
  const present = rows.filter((r): r is CompareRow => r !== undefined);
  const baseline = present.length ? applyDeltaM(present) : undefined;
  const seeds = [...new Set(present.map((r) => r.seed).filter((x) => x !== undefined))];
  const bySeed = seeds.length > 1;

  const columns: Table['columns'] = [{ label: 'run' }, { label: 'strategy' }, ...(bySeed ? [{ label: 'seed' }] : [])];
  for (const task of tasks) {
    const m = metricOf(task);
    const better = m === 'rmse' ? 'min' as const : 'max' as const;
    columns.push({ label: `${task} best ${metricLabel(m)}`, better }, { label: `${task} final ${metricLabel(m)}`, better });
  }
  columns.push({ label: deltaMHeader(baseline) }, { label: 'conflicts' }, { label: 'steps' },
    { label: 'time (s)', better: 'min' }, { label: 'training (s)', better: 'min' }, { label: 'steps/s', better: 'max' });
  const perRun = runs.map((r, i) => {
    const row = rows[i];
    const cells: (string | number | null)[] = [r.label, r.summary?.strategy ?? null, ...(bySeed ? [row?.seed ?? null] : [])];
    for (const task of tasks) {
      const st = r.summary?.tasks.find((t) => t.name === task);
      cells.push(sig(st?.bestValidation ?? r.bestEval(task) ?? NaN), sig(st?.finalValidation ?? r.lastEval('validation', task)?.metric ?? NaN));
    }
    cells.push(row ? signed(row.deltaM) : '—', row ? conflictsCell(row.meanConflicts) : '—', r.summary?.steps ?? r.steps,
      sig(row?.wallSeconds ?? NaN), sig(r.summary?.seconds ?? NaN), sig(r.summary?.stepsPerSecond ?? NaN));
    return cells;
  });
  const tables: Table[] = [{
    title: 'Validation results',
    columns,
    rows: perRun,
    note: `${deltaMHeader(baseline)}: the mean relative change of the final validation metrics against ${baseline ?? 'the baseline'}${bySeed ? ' of the same seed' : ''}, positive = better. `
      + 'conflicts: task pairs whose gradients have a negative cosine, mean per step (— where the plan computes no per-task gradients: sum on the fused plan). '
      + 'time: the run\'s wall-clock time, the console\'s "time" (setup, worker start and evaluations included; – when the comparison did not record it); '
      + 'training: the training steps alone (summary.json\'s seconds), which steps/s divides by.',
  }];
  if (bySeed) {
    const aggregate = aggregateSeeds(present);
    tables.push({
      title: `Over seeds ${seeds.join(', ')}: mean ± standard deviation`,
      columns: [{ label: 'strategy' }, ...tasks.map((t) => ({ label: `${t} final ${metricLabel(metricOf(t))}` })), { label: deltaMHeader(baseline) }, { label: 'seeds' }],
      rows: aggregate.map((a) => [a.label, ...tasks.map((t) => seedMetricCell(a.metrics[t])), seedDeltaMCell(a), seedCount(a)]),
      note: `${deltaMHeader(baseline)} against ${baseline} of the same seed, positive = better; ${SEED_SPREAD_RULE}.`,
    });
  }
  return tables;
}

/** The report comparing several runs: one line per run in every chart, and the comparison table. */
export function buildCompareDocument(runs: RunAccumulator[], options: CompareBuildOptions = {}): ReportDocument {
  const maxPoints = options.maxPoints ?? 1000;
  const tasks: string[] = [];
  for (const r of runs) for (const t of r.tasks) if (!tasks.includes(t)) tasks.push(t);
  const metricOf = (task: string) => runs.map((r) => r.metricNames.get(task)).find((m) => m !== undefined);
  const given = options.comparison?.length === runs.length ? options.comparison : undefined;
  const sections: Section[] = [{ title: 'Comparison', tables: nonNull([...comparisonTables(runs, tasks, metricOf, given), timingTable(runs, 'run')]), charts: [] }];

  // colour i for run i in every chart, even where some run has no such series
  // over seeds: one colour per strategy
  const strategies = given ? [...new Set(given.map((r) => r.label))] : [];
  const colour = (i: number) => (given ? strategies.indexOf(given[i].label) : i);
  const perRun = (pick: (r: RunAccumulator) => LineSeries | null) =>
    runs.map((r, i) => relabel(pick(r), r.label, colour(i)));
  for (const task of tasks) {
    const metric = metricLabel(metricOf(task));
    sections.push({
      title: `Task ${task}`,
      tables: [],
      charts: nonNull([
        lineChart(`${task}: validation ${metric}`, 'epoch', metric, perRun((r) => r.evalSeries('validation', task, 'metric', 'epoch', maxPoints))),
        lineChart(`${task}: validation loss`, 'epoch', 'loss', perRun((r) => r.evalSeries('validation', task, 'loss', 'epoch', maxPoints))),
        lineChart(`${task}: training loss`, 'step', 'loss', perRun((r) => r.losses.line(task, maxPoints)), // named and coloured by perRun
          runs[0] ? smoothingOf(runs[0].losses) : {}),
      ]),
    });
  }
  const timed = runs.filter((r) => r.timedSteps > 0);
  if (timed.length) {
    // every logged part, zero or not, so each keeps its colour from the run reports
    const parts = [...TIMING_PARTS, OTHER].filter((p) => timed.some((r) => (p === OTHER ? (r.timingTotals.get(p) ?? 0) > 0 : r.timing.map.has(p))));
    const chart: StackedChart = {
      kind: 'stacked', title: 'Mean step time per run', xLabel: 'run', yLabel: 'ms per step',
      categories: parts, x0: timed.map((_, i) => i), x1: timed.map((_, i) => i + 1), labels: timed.map((r) => r.label),
      values: parts.map((p) => timed.map((r) => sig((r.timingTotals.get(p) ?? 0) / r.timedSteps) ?? 0)),
    };
    sections.push({ title: 'Step time', tables: [], charts: [chart] });
  }
  return {
    kind: 'compare',
    title: options.title ?? `multitask comparison: ${(given ? strategies : runs.map((r) => r.label)).join(' vs ')}`,
    subtitle: `${runs.length} runs · ${tasks.length} tasks`,
    generated: new Date().toISOString(),
    warnings: options.warnings ?? [],
    sections,
  };
}
