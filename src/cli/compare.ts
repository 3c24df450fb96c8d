/**
 * `multitask compare`: several strategies on the same data, seed and budget
 * (epochs), one after another, each into its own run directory under one
 * comparison directory; then one table and the comparison report.
 *
 * Δm%, the mean conflict and the statistics over seeds: trainer/compare-stats.ts
 * (shared with the comparison report).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeCompareReport } from '../report/index.js';
import { readJsonFile, RUN_FILES, validateSummary } from '../trainer/run-format.js';
import {
  applyDeltaM, aggregateSeeds, compareRow, conflictsCell, deltaMHeader, seedCount, seedDeltaMCell, seedMetricCell, signed, SEED_SPREAD_RULE,
  type CompareRow, type SeedAggregate,
} from '../trainer/compare-stats.js';
import { configDefaults, strategyChoices } from '../trainer/config.js';
import { suggestion } from '../trainer/config-messages.js';
import { checkRunName, defaultRunName, lockDirectory } from '../trainer/run-dir.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { isReportedError, isUserError, UserError } from '../util/errors.js';
import type { CliConfig } from './config.js';
import { duration, num, table } from './format.js';
import { Output } from './output.js';
import { trainCommand } from './train.js';

export const DEFAULT_COMPARE = ['sum', 'sequential:fresh', 'sequential:stale', 'pcgrad', 'mgda', 'cagrad', 'upgrad'] as const;
export const COMPARE_FILE = 'compare.json';

export interface CompareEntry {
  /** Directory name and table label, e.g. `sequential-stale`, `cagrad-c=0.2`. */
  label: string;
  strategy: string;
  sequentialMode?: 'fresh' | 'stale';
  options?: Record<string, string>;
}

/**
 * `sum,sequential:stale,cagrad:c=0.2` → entries. A token is a strategy name,
 * then `:`-separated parts: `fresh`/`stale` (sequential) or `key=value`
 * strategy options. `sequential stale` (with a space) works too.
 */
export function parseStrategyList(text: string, option = '--strategies'): CompareEntry[] {
  const tokens = text.split(',').map((t) => t.trim()).filter(Boolean);
  if (tokens.length === 0) throw new UserError(`${option}: no strategy given (e.g. ${DEFAULT_COMPARE.join(',')})`);
  const entries = tokens.map((token) => {
    const [strategy, ...parts] = token.split(/[:\s]+/);
    const entry: CompareEntry = { label: strategy, strategy };
    for (const part of parts) {
      if (part === 'fresh' || part === 'stale') {
        if (strategy !== 'sequential') throw new UserError(`${option}: ${JSON.stringify(token)}: "${part}" is a mode of sequential`);
        entry.sequentialMode = part;
      } else if (part.includes('=')) {
        const [k, v] = [part.slice(0, part.indexOf('=')), part.slice(part.indexOf('=') + 1)];
        entry.options = { ...entry.options, [k]: v };
      } else throw new UserError(`${option}: ${JSON.stringify(token)}: ${JSON.stringify(part)} is neither fresh/stale nor key=value`);
    }
    const known = strategyChoices();
    if (!known.includes(strategy)) {
      throw new UserError(`${option}: ${JSON.stringify(strategy)} is not one of ${known.join(', ')}${suggestion(strategy, known)}`);
    }
    if (strategy === 'sequential') entry.sequentialMode ??= 'fresh';
    entry.label = [strategy, entry.sequentialMode, ...Object.entries(entry.options ?? {}).map(([k, v]) => `${k}=${v}`)]
      .filter(Boolean).join('-');
    if (!/^[\w.=-]+$/.test(entry.label)) throw new UserError(`${option}: ${JSON.stringify(token)} cannot name a run directory`);
    return entry;
  });
  const seen = new Set<string>();
  for (const e of entries) {
    if (seen.has(e.label)) throw new UserError(`${option}: ${e.label} is listed twice`);
    seen.add(e.label);
  }
  return entries;
}

/** The console table of a comparison over seeds. */
export function seedTable(rows: readonly SeedAggregate[], baseline: string, output: Output): string {
  const tasks = Object.keys(rows[0]?.metrics ?? {});
  const header = ['strategy', ...tasks.map((t) => `${t} ${rows[0].metricNames[t] === 'accuracy' ? 'acc' : 'rmse'}`),
    deltaMHeader(baseline), 'seeds'];
  const body = rows.map((r) => [
    r.label,
    ...tasks.map((t) => seedMetricCell(r.metrics[t])),
    seedDeltaMCell(r),
    String(seedCount(r)),
  ]);
  return table([header, ...body], output.style, Array.from({ length: header.length - 1 }, (_, i) => i + 1));
}

export function compareTable(rows: readonly CompareRow[], baseline: string | undefined, output: Output): string {
  const tasks = Object.keys(rows[0]?.metrics ?? {});
  const header = ['strategy', ...tasks.map((t) => `${t} ${rows[0].metricNames[t] === 'accuracy' ? 'acc' : 'rmse'}`),
    deltaMHeader(baseline), 'time', 'steps/s', 'conflicts'];
  const body = rows.map((r) => [
    r.label,
    ...tasks.map((t) => num(r.metrics[t])),
    signed(r.deltaM),
    duration(r.wallSeconds),
    r.stepsPerSecond.toFixed(1),
    conflictsCell(r.meanConflicts),
  ]);
  return table([header, ...body], output.style, Array.from({ length: header.length - 1 }, (_, i) => i + 1));
}

/** What a comparison will run, written before its first run so `compare --resume` can finish it. */
export const COMPARE_PLAN_FILE = 'compare-plan.json';

interface ComparePlan {
  format: 1;
  config: CliConfig;
  entries: CompareEntry[];
  /** `--seeds`: every strategy once per seed, into seed-<s>/ */
  seeds?: number[];
}

export interface CompareSession {
  /** The shared settings (file and flags); strategy fields are set per run. */
  config: CliConfig;
  entries: CompareEntry[];
  /** Continue this comparison directory: finished runs are kept, stopped ones resumed, the rest run. */
  resume?: string;
  /** Run every strategy once per seed (`--seeds 0,1,2`) and report mean ± standard deviation. */
  seeds?: number[];
  name?: string;
  workers?: number;
  report?: boolean;
  output: Output;
}

/** Runs every strategy; returns the exit code. */
export async function compareCommand(s: CompareSession): Promise<number> {
  if (s.resume !== undefined) return resumeComparison(s.resume, s);
  const out = s.output;
  const defaults = configDefaults();
  const runsDir = s.config.runsDir ?? defaults.runsDir;
  const name = s.name ?? s.config.name ?? defaultRunName('compare');
  checkRunName(name);
  const dir = resolve(runsDir, name);
  mkdirSync(dir, { recursive: true });
  // one writer: each run directory is locked by its run, the comparison's by the comparison
  const lock = lockDirectory(dir, (line) => out.warn(line));
  try {
    return await compareRuns(s, dir);
  } finally {
    lock.release();
  }
}

/** `compare --resume <dir>`: the plan the comparison wrote at its start, run to the end. */
async function resumeComparison(dir: string, s: CompareSession): Promise<number> {
  const path = join(dir, COMPARE_PLAN_FILE);
  if (!existsSync(path)) {
    throw new UserError(`--resume ${dir}: not a comparison directory (no ${COMPARE_PLAN_FILE}; comparisons started before it was written cannot be resumed: resume their runs with train --resume)`);
  }
  const plan = readJsonFile(path) as ComparePlan;
  if (plan?.format !== 1 || !Array.isArray(plan.entries) || typeof plan.config !== 'object') throw new UserError(`${path}: not a comparison plan (format 1)`);
  const lock = lockDirectory(dir, (line) => s.output.warn(line));
  try {
    return await compareRuns({ ...s, config: plan.config, entries: plan.entries, seeds: plan.seeds }, dir, true);
  } finally {
    lock.release();
  }
}

async function compareRuns(s: CompareSession, dir: string, resuming = false): Promise<number> {
  const out = s.output;
  const defaults = configDefaults();
  if (!resuming && existsSync(join(dir, COMPARE_FILE))) throw new UserError(`--name: ${dir} already holds a comparison (pick another name)`);
  // every name was checked by parseStrategyList, before any run
  const runnable = s.entries;
  const base: CliConfig = { ...s.config, name: undefined, saveWeights: undefined, runsDir: dir, report: false };
  // where a comparison runs (workers, a cluster and its credentials) is not part of its plan
  if (!resuming) {
    const plan: ComparePlan = { format: 1, config: { ...base, workers: undefined, cluster: undefined }, entries: runnable, ...(s.seeds ? { seeds: s.seeds } : {}) };
    writeFileAtomic(join(dir, COMPARE_PLAN_FILE), `${JSON.stringify(plan, null, 2)}\n`);
  }
  if ((base.taskLr || base.taskSchedules) && runnable.some((e) => e.strategy !== 'sequential')) {
    out.warn('taskLr / taskSchedules apply to the sequential runs only');
  }
  const epochs = base.epochs ?? defaults.epochs;
  const seeds = s.seeds ?? [base.seed ?? defaults.seed];
  out.info(`multitask compare: ${runnable.map((e) => e.label).join(', ')}; ${epochs} epochs each, seed${seeds.length > 1 ? 's' : ''} ${seeds.join(', ')}; into ${dir}`);
  const inner = new Output({ silent: true, quiet: out.mode !== 'tty' && out.mode !== 'plain' });
  const rows: CompareRow[] = [];
  const total = runnable.length * seeds.length;
  for (const [i, [seed, e]] of seeds.flatMap((sd) => runnable.map((en) => [sd, en] as const)).entries()) {
    // one seed: runs straight in the comparison's directory; several: seed-<s>/<strategy>
    const seedDir = s.seeds ? join(dir, `seed-${seed}`) : dir;
    const tag = s.seeds ? `${e.label} (seed ${seed})` : e.label;
    const sequential = e.strategy === 'sequential';
    const config: CliConfig = {
      ...base,
      seed,
      runsDir: seedDir,
      name: e.label,
      strategy: e.strategy,
      sequentialMode: sequential ? e.sequentialMode : undefined,
      // options given with the strategy in the list, or the file's options for the same strategy
      strategyOptions: e.options ?? (s.config.strategy === e.strategy ? s.config.strategyOptions : undefined),
      weighting: sequential ? base.weighting : undefined,
      taskLr: sequential ? base.taskLr : undefined,
      taskSchedules: sequential ? base.taskSchedules : undefined,
      plan: e.strategy === 'sum' ? base.plan : base.plan === 'fused' ? undefined : base.plan,
    };
    const started = performance.now();
    const runDir = join(seedDir, e.label);
    if (resuming && existsSync(join(runDir, RUN_FILES.summary))) {
      const summary = validateSummary(readJsonFile(join(runDir, RUN_FILES.summary)), join(runDir, RUN_FILES.summary));
      rows.push({ ...compareRow(e.label, runDir, summary, summary.seconds), seed });
      out.info(`[${i + 1}/${total}] ${tag}: finished before; kept`);
      continue;
    }
    const resumeRun = resuming && existsSync(join(runDir, RUN_FILES.config)) ? runDir : undefined;
    let result;
    try {
      result = await trainCommand(resumeRun
        ? { resume: resumeRun, output: inner, verbose: false, workers: s.workers, startedAt: started, report: false }
        : { config, output: inner, verbose: false, workers: s.workers, startedAt: started, report: false });
    } catch (err) {
      // a bad setting fails every run alike: stop; a run that diverged does not stop the others
      if (!isReportedError(err) || isUserError(err)) throw err;
      out.warn(`${tag}: failed: ${(err as Error).message}`);
      continue;
    }
    if (result.code !== 0 || !result.summary || !result.dir) {
      if (result.code === 130 || result.code === 143) out.warn(`the comparison stopped at ${tag}; continue it with: multitask compare --resume ${dir}`);
      return result.code || 1;
    }
    const row: CompareRow = { ...compareRow(e.label, result.dir, result.summary, (performance.now() - started) / 1000), seed };
    rows.push(row);
    const parts = Object.entries(row.metrics).map(([t, m]) => `${t} ${row.metricNames[t] === 'accuracy' ? 'acc' : 'rmse'} ${num(m)}`);
    out.info(`[${i + 1}/${total}] ${tag}: ${parts.join(' | ')} | ${duration(row.wallSeconds)}, ${row.stepsPerSecond.toFixed(1)} steps/s`);
    out.json({ type: 'run', ...row, deltaM: undefined });
  }
  if (rows.length === 0) {
    out.warn('every run failed');
    return 1;
  }
  // Δm% against the baseline run of the same seed
  const baselineLabel = applyDeltaM(rows);
  if (baselineLabel !== 'sum') out.warn(`no sum run: Δm% is against ${baselineLabel}`);
  const aggregate = s.seeds ? aggregateSeeds(rows) : undefined;
  const summary = { format: 1, baseline: baselineLabel, epochs, ...(s.seeds ? { seeds: s.seeds } : { seed: base.seed ?? 0 }), runs: rows, ...(aggregate ? { aggregate } : {}) };
  writeFileAtomic(join(dir, COMPARE_FILE), `${JSON.stringify(summary, null, 2)}\n`);
  let reportPath: string | null = null;
  if (s.report !== false) {
    reportPath = (await writeCompareReport(dir, rows.map((r) => r.dir), { title: `multitask compare: ${[...new Set(rows.map((r) => r.label))].join(', ')}`, comparison: rows })).path;
  }
  if (aggregate) {
    out.result(`\nFinal validation metrics after ${epochs} epochs, mean ± standard deviation over seeds ${s.seeds!.join(', ')} (Δm%: against ${baselineLabel} of the same seed, positive = better; ${SEED_SPREAD_RULE}):`);
    out.result(seedTable(aggregate, baselineLabel, out));
  } else {
    out.result(`\nFinal validation metrics after ${epochs} epochs (Δm%: mean relative change against ${baselineLabel}, positive = better; conflicts: conflicting task pairs per step):`);
    out.result(compareTable(rows, baselineLabel, out));
  }
  out.info(`comparison: ${dir}${reportPath ? ` (report ${reportPath})` : ''}`);
  out.json({ type: 'compare', dir, report: reportPath, ...summary });
  return 0;
}

/** `multitask report <dir>` on a comparison directory. */
export async function reportCompareDirectory(dir: string, out?: string) {
  if (!existsSync(join(dir, COMPARE_FILE))) {
    // a comparison stopped before its end: its runs so far
    const plan = readJsonFile(join(dir, COMPARE_PLAN_FILE)) as ComparePlan;
    const entries = plan.entries ?? [];
    // over seeds the runs are in seed-<s>/<strategy>
    const planned = plan.seeds ? plan.seeds.flatMap((seed) => entries.map((e) => join(dir, `seed-${seed}`, e.label))) : entries.map((e) => join(dir, e.label));
    const runs = planned.filter((d) => existsSync(join(d, RUN_FILES.config)));
    return writeCompareReport(dir, runs, { out, title: `multitask compare (unfinished: ${runs.length} of ${planned.length} runs started)` });
  }
  const saved = readJsonFile(join(dir, COMPARE_FILE)) as { runs?: (Partial<CompareRow> & { dir?: string; label?: string })[] };
  const rows = saved.runs ?? [];
  const runs = rows.map((r) => (r.dir && existsSync(r.dir) ? r.dir : join(dir, ...(r.seed !== undefined && 'seeds' in saved ? [`seed-${r.seed}`] : []), String(r.label))));
  // the rows as the console showed them (wall-clock times, seeds), when compare.json holds them whole
  const whole = rows.every((r) => typeof r.label === 'string' && typeof r.metrics === 'object' && r.metrics !== null && typeof r.wallSeconds === 'number');
  return writeCompareReport(dir, runs, { out, ...(whole ? { comparison: rows.map((r, i) => ({ ...r, dir: runs[i] }) as CompareRow) } : {}) });
}

/** True for a directory `multitask compare` wrote (finished or not). */
export function isComparisonDirectory(dir: string): boolean {
  return existsSync(join(dir, COMPARE_FILE)) || existsSync(join(dir, COMPARE_PLAN_FILE));
}
