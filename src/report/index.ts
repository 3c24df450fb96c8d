/*
 * src/report/: the HTML report, built from a run directory's files (their format is
 * src/trainer/run-format.ts). This file: writing report.html for a run or a comparison.
 * May import: util, kernels, model, optim, strategies, data, protocol, trainer.
 */
/**
 * `multitask report` and the report at the end of `train` and `compare`:
 * one self-contained report.html per run directory (or comparison directory).
 */
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.js';
import { UserError } from '../util/errors.js';
import { RunAccumulator, buildCompareDocument, buildRunDocument, comparisonLabels, runLabels, type BuildOptions } from './build.js';
import type { CompareRow } from '../trainer/compare-stats.js';
import type { ReportDocument } from './document.js';
import { renderHtml } from './html.js';
import {
  RUN_FILES, checkRunDirectory, optionalFile, metricsWarnings, readJsonFile, readMetrics, readSummary,
  type RunData, type RunSummary,
} from '../trainer/run-format.js';

export type { ReportDocument } from './document.js';
export { renderHtml, escapeHtml, scriptSafeJson } from './html.js';
export { Downsampler, downsample } from './downsample.js';

export interface ReportOptions extends BuildOptions {
  /** where to write (default: <dir>/report.html) */
  out?: string;
  /** compare reports: the page title */
  title?: string;
  /**
   * compare reports: the comparison's rows (compare.json's `runs`), one per
   * run in the order given: their wall-clock times, seeds (a comparison over
   * seeds gets its mean ± std table), conflicts; without them the rows come
   * from the runs' summary.json files.
   */
  comparison?: readonly CompareRow[];
}


export interface ReportResult {
  path: string;
  /** problems met while reading (missing files, skipped lines); the report shows them too */
  warnings: string[];
  /** metrics lines skipped as malformed, over all runs */
  skippedLines: number;
  document: ReportDocument;
}

interface LoadedRun {
  accumulator: RunAccumulator;
  config?: unknown;
  warnings: string[];
  skipped: number;
}


/** Streams a run directory into an accumulator (bounded memory, whatever the run's length). */
async function loadRunDirectory(dir: string, label: string | undefined, options: BuildOptions): Promise<LoadedRun> {
  checkRunDirectory(dir);
  const warnings: string[] = [];
  const config = optionalFile(dir, RUN_FILES.config, () => readJsonFile(join(dir, RUN_FILES.config)), warnings);
  const summary = optionalFile(dir, RUN_FILES.summary, () => readSummary(dir), warnings);
  const accumulator = new RunAccumulator(summary, label ?? summary?.name ?? basename(resolve(dir)), 2 * (options.maxPoints ?? 1000), options.smoothing);
  let skipped = 0;
  if (existsSync(join(dir, RUN_FILES.metrics))) {
    const result = await readMetrics(join(dir, RUN_FILES.metrics), (r) => accumulator.add(r));
    warnings.push(...metricsWarnings(result));
    skipped = result.skipped;
  } else warnings.push(`${RUN_FILES.metrics} is missing`);
  return { accumulator, config, warnings, skipped };
}

function loadRunData(run: RunData, label: string, options: BuildOptions): LoadedRun {
  const accumulator = new RunAccumulator(run.summary, label, 2 * (options.maxPoints ?? 1000), options.smoothing);
  for (const r of run.records) accumulator.add(r);
  return { accumulator, config: run.config, warnings: [...run.warnings], skipped: 0 };
}

/**
 * Reads the run directory `runDir` and writes `runDir/report.html` (or
 * options.out): curves per task, gradient cosines, strategy weights, step-time
 * breakdown and the summary table, all in one file that needs no network.
 * Missing files and malformed metrics lines become warnings in the report;
 * a directory with neither summary.json nor metrics.jsonl is a UserError.
 */
export async function writeReport(runDir: string, options: ReportOptions = {}): Promise<ReportResult> {
  const run = await loadRunDirectory(runDir, undefined, options);
  const document = buildRunDocument(run.accumulator, { ...options, config: run.config, warnings: run.warnings });
  const path = options.out ?? join(runDir, RUN_FILES.report);
  writeFileAtomic(path, renderHtml(document));
  return { path, warnings: run.warnings, skippedLines: run.skipped, document };
}

/**
 * The comparison report for `multitask compare`: `runs` are run directories
 * or runs already in memory; writes `dir/report.html` (or options.out) with
 * every task's curves overlaid, one line per run, and the comparison table.
 */
export async function writeCompareReport(dir: string, runs: readonly (string | RunData)[], options: ReportOptions = {}): Promise<ReportResult> {
  if (runs.length === 0) throw new UserError('compare report: no runs given');
  const summaries: { summary?: RunSummary; fallback: string }[] = [];
  const loaded: LoadedRun[] = [];
  for (const [i, run] of runs.entries()) {
    const fallback = typeof run === 'string' ? basename(resolve(run)) : run.summary?.name ?? run.dir ?? `run ${i + 1}`;
    const item = typeof run === 'string' ? await loadRunDirectory(run, fallback, options) : loadRunData(run, fallback, options);
    loaded.push(item);
    summaries.push({ summary: item.accumulator.summary, fallback });
  }
  const comparison = options.comparison?.length === runs.length ? options.comparison : undefined;
  const labels = comparison ? comparisonLabels(comparison) : runLabels(summaries);
  const accumulators = loaded.map((l, i) => Object.assign(l.accumulator, { label: labels[i] }));
  const warnings = loaded.flatMap((l, i) => l.warnings.map((w) => `${labels[i]}: ${w}`));
  const document = buildCompareDocument(accumulators, { ...options, comparison, warnings });
  const path = options.out ?? join(dir, RUN_FILES.report);
  writeFileAtomic(path, renderHtml(document));
  return { path, warnings, skippedLines: loaded.reduce((n, l) => n + l.skipped, 0), document };
}
