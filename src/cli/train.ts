import { mkdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Dataset } from '../data/dataset.js';
import { kernelNotice } from '../kernels/index.js';
import { writeReport } from '../report/index.js';
import { RUN_FILES, validateRecord, type EvalRecord, type RunSummary, type StepRecord } from '../trainer/run-format.js';
import type { GradientDiagnostics } from '../strategies/index.js';
import { ClusterUnavailableError } from '../trainer/cluster-pool.js';
import type { ClusterStats } from '../trainer/pool.js';
import { redactUrl } from '../trainer/cluster-connection.js';
import { dropUndefined, storedConfig, type TrainerConfig } from '../trainer/config.js';
import { runConfig } from '../trainer/legacy-config.js';
import type { SourcedConfig } from '../trainer/legacy-model.js';
import type { EpochReport, StepReport, TaskMetricsByName } from '../trainer/metrics.js';
import { dataFiles, RunDirectory } from '../trainer/run-dir.js';
import { copyFileAtomic } from '../util/atomic-file.js';
import { describeSchedule } from '../trainer/schedule.js';
import { Trainer } from '../trainer/trainer.js';
import type { CliConfig } from './config.js';
import { epochLine, placementLine, profileTable, stepLoopLine, summaryTable } from './format.js';
import { checkOutputFile } from './out-file.js';
import { evalTable, testSetReport } from './metrics-table.js';
import type { Output } from './output.js';

export interface TrainSession {
  /** A new run from this config; ignored with `resume`. */
  config?: CliConfig;
  /** Resume this run directory instead of starting a new one. */
  resume?: string;
  /** Overrides the config's worker count (results do not depend on it). */
  workers?: number;
  /** Resuming: the cluster to continue on (a run directory does not store where it ran). */
  cluster?: TrainerConfig['cluster'];
  /** Resuming: where the gradient jobs run (not stored either). */
  computeOn?: TrainerConfig['computeOn'];
  profile?: boolean;
  /** Overrides config.report. */
  report?: boolean;
  output: Output;
  /** Print the start lines and the closing table (compare runs print their own). */
  verbose?: boolean;
  /** performance.now() when the command started, for the wall time. */
  startedAt?: number;
  /** Resuming: continue although the data file changed since the run started. */
  allowDataChange?: boolean;
  /** Overwrite an existing saveWeights file. */
  force?: boolean;
}

export interface TrainResult {
  code: number;
  dir?: string;
  summary?: RunSummary;
  validation?: TaskMetricsByName;
}

/** Microsecond precision is plenty in metrics.jsonl. */
function roundTiming(t: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(t)) out[k] = Math.round(v * 1000) / 1000;
  return out;
}

const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

/**
 * A run's settings: a new config (file and flags), or a run directory's
 * config.json (today's: the resolved config itself; older formats converted by
 * legacy-config.ts), with the worker count of this invocation; `source` names
 * it in messages.
 */
/** A run's config and what names it in messages. */
export type RunSetup = SourcedConfig;

export function setupFromConfig(config: CliConfig, workers: number | undefined, source = 'config'): RunSetup {
  return { config: workers ? { ...config, workers } : config, source };
}

/** A resumed run's config with where it computes now (a run directory stores neither). */
function withPlace(setup: RunSetup, place: Pick<TrainerConfig, 'cluster' | 'computeOn'>): RunSetup {
  return { ...setup, config: { ...setup.config, ...dropUndefined(place) } };
}

export function setupFromRun(value: unknown, source: string, workers: number | undefined): RunSetup {
  return setupFromConfig(runConfig(value, source), workers, source);
}

function evalRecord(epoch: number, step: number, split: 'train' | 'validation', tasks: TaskMetricsByName): EvalRecord {
  const out: EvalRecord['tasks'] = {};
  for (const [name, m] of Object.entries(tasks)) out[name] = { loss: m.loss, metric: m.metric, metricName: m.metricName };
  return { type: 'eval', epoch, step, split, tasks: out };
}

/** A step's gradient diagnostics as metrics.jsonl fields: by task name, cosines keyed "a|b". */
export function diagnosticFields(d: GradientDiagnostics | undefined, names: readonly string[]): Partial<StepRecord> {
  if (!d) return {};
  const T = names.length;
  const byName = (values: readonly number[] | null | Record<string, number>) => {
    if (values === null) return undefined;
    if (!Array.isArray(values)) return values as Record<string, number>;
    return Object.fromEntries(names.map((n, i) => [n, values[i]]));
  };
  const out: Partial<StepRecord> = { conflicts: d.conflicts, norms: byName(d.norms) };
  if (Array.isArray(d.cosines)) {
    const cosines: Record<string, number> = {};
    for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) cosines[`${names[i]}|${names[j]}`] = d.cosines[i * T + j];
    out.cosines = cosines;
  } else out.cosines = d.cosines as unknown as Record<string, number>;
  const weights = byName(d.weights);
  if (weights) out.weights = weights;
  return out;
}

/** The strategy as a label: `sum`, `sequential fresh`, `sequential stale + dwa`, `pcgrad`. */
export function strategyLabel(config: { strategy: string; sequentialMode: string; weighting?: string | null }): string {
  const base = config.strategy === 'sequential' ? `sequential ${config.sequentialMode}` : config.strategy;
  return config.weighting ? `${base} + ${config.weighting}` : base;
}

/** Best and final validation metric per task, over every evaluation in metrics.jsonl (resumed runs included). */
function summarize(run: RunDirectory, trainer: Trainer, name: string, seconds: number, steps: number, extra: Record<string, unknown>): RunSummary {
  const best = new Map<string, number>();
  const final = new Map<string, number>();
  for (const line of readFileSync(join(run.dir, RUN_FILES.metrics), 'utf8').split('\n')) {
    let r;
    try {
      r = line.trim() ? validateRecord(JSON.parse(line)) : null;
    } catch {
      continue; // a line torn by a crash before the resume point
    }
    if (r?.type !== 'eval' || r.split !== 'validation') continue;
    for (const [task, m] of Object.entries(r.tasks)) {
      const better = m.metricName === 'accuracy' ? Math.max : Math.min;
      best.set(task, best.has(task) ? better(best.get(task)!, m.metric) : m.metric);
      final.set(task, m.metric);
    }
  }
  const finite = (x: number | undefined) => (x !== undefined && Number.isFinite(x) ? x : null);
  return {
    name,
    strategy: strategyLabel(trainer.config),
    tasks: trainer.spec.tasks.map((t) => ({
      name: t.name,
      metricName: trainer.dataset.tasks.find((d) => d.name === t.name)!.classes ? 'accuracy' : 'rmse',
      bestValidation: finite(best.get(t.name)),
      finalValidation: finite(final.get(t.name)),
    })),
    steps: trainer.steps,
    seconds,
    stepsPerSecond: steps / seconds,
    plan: trainer.plan,
    workers: trainer.config.workers,
    kernels: `${trainer.kernels.backend}/${trainer.kernels.isa}`,
    skippedSteps: trainer.skippedSteps,
    ...extra,
  };
}

/**
 * What became of the data's rows: dropped (by reason; today one: a feature
 * value missing) and, per task, left without a label (they train the other
 * tasks). `note` says it in the start line (empty when nothing is missing).
 */
export function rowAccount(ds: Dataset): { dropped: { missingFeature: number }; unlabelled: Record<string, number>; note: string } {
  const unlabelled = Object.fromEntries(ds.tasks.map((t) => [t.name, ds.rows - t.labelled]));
  const parts: string[] = [];
  if (ds.droppedRows > 0) parts.push(`${ds.droppedRows} row${ds.droppedRows === 1 ? '' : 's'} dropped: a feature value missing`);
  const without = Object.entries(unlabelled).filter(([, n]) => n > 0).map(([task, n]) => `${task} ${n}`);
  if (without.length > 0) parts.push(`rows without a label: ${without.join(', ')}`);
  return { dropped: { missingFeature: ds.droppedRows }, unlabelled, note: parts.length > 0 ? ` (${parts.join('; ')})` : '' };
}

/** A cluster run's traffic, per step. */
function clusterLine(c: ClusterStats, steps: number): string {
  const mb = (bytes: number) => (bytes / Math.max(1, steps) / 1e6).toFixed(2);
  return `cluster run ${c.run}: ${c.workersSeen} worker process(es) seen; per step ${mb(c.paramBytes)} MB of parameters out, `
    + `${mb(c.frameBytes)} MB of gradients in; ${c.dropped} message(s) dropped, ${c.resent} job(s) re-sent`;
}

/**
 * `multitask train`: a new run directory (or a resumed one), progress per
 * step and epoch, checkpoints every N steps and per epoch, and on
 * SIGINT/SIGTERM a checkpoint after the step in flight.
 */
export async function trainCommand(s: TrainSession): Promise<TrainResult> {
  const out = s.output;
  const verbose = s.verbose !== false;
  const warn = (line: string) => out.warn(line);
  // a resumed run is locked (one writer) before anything is read or written
  const opened = s.resume ? RunDirectory.open(s.resume, { warn }) : undefined;
  let trainer: Trainer;
  try {
    const setup = opened
      ? withPlace(setupFromRun(opened.config, join(resolve(s.resume!), RUN_FILES.config), s.workers), { cluster: s.cluster, computeOn: s.computeOn })
      : setupFromConfig(s.config ?? {}, s.workers);
    const notice = kernelNotice();
    // a notice, not an error: not in --quiet or --json mode
    if (notice && verbose && (out.mode === 'tty' || out.mode === 'plain')) out.warn(notice.replace(/^multitask: /, ''));
    // the trainer first: bad data or options fail before a run directory exists
    // (initial weights are loaded by Trainer.create; a checkpoint, if any, replaces them)
    trainer = await Trainer.create(setup.config, { source: setup.source });
  } catch (e) {
    opened?.run.close();
    throw e;
  }
  const config = trainer.config;
  let run: RunDirectory;
  let checkpoint;
  let held = opened?.run;
  try {
    if (config.saveWeights) checkOutputFile(config.saveWeights, '--save-weights', { force: s.force, inputs: [...dataFiles(config), config.initWeights] });
    if (opened) {
      run = opened.run;
      run.checkData(dataFiles(config), s.allowDataChange === true);
      checkpoint = run.resumeCheckpoint((data, path) => trainer.restore(data, path));
    } else {
      run = held = RunDirectory.create(config.runsDir, config.name, config.strategy, storedConfig(config), { warn });
      run.recordData(dataFiles(config));
    }
  } catch (e) {
    held?.close();
    await trainer.close();
    throw e;
  }
  let stopSignal: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopSignal) process.exit(SIGNAL_EXIT[signal] ?? 1); // second signal: at once; the last checkpoint stays intact
    stopSignal = signal;
    out.warn(`${signal}: finishing the step in flight, then writing a checkpoint (again to quit at once)`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const names = trainer.spec.tasks.map((t) => t.name);
  let progress: ReturnType<Output['epochProgress']> | undefined;
  try {
    if (checkpoint) {
      run.truncateMetricsTo(checkpoint.data);
      if (verbose) out.info(`multitask: resuming ${run.dir} at epoch ${checkpoint.data.epoch + 1}, step ${checkpoint.data.step}`);
    } else if (s.resume) {
      run.truncateMetricsTo({ step: 0, epoch: 0 });
      if (verbose) out.info(`multitask: ${run.dir} has no checkpoint yet; starting it from the beginning`);
    }
    const { workers } = trainer.config;
    // more threads than cores run, but slower than one per core: said once, like the kernel notice
    const cores = availableParallelism();
    if (verbose && (out.mode === 'tty' || out.mode === 'plain') && !config.cluster && config.computeOn !== 'coordinator' && workers > cores) {
      out.warn(`${workers} worker threads on ${cores} cores share them: expect it slower than --workers ${cores}`);
    }
    const perEpoch = Math.ceil(trainer.dataset.train.length / trainer.config.batchSize);
    const label = strategyLabel(trainer.config);
    const epochs = config.epochs;
    const rows = rowAccount(trainer.dataset);
    // a test table that cannot be evaluated (no such file, a missing column, an unknown class) fails now, not after training
    if (config.test) testSetReport(trainer.model(), config.test);
    if (verbose) {
      out.info(`multitask: ${trainer.dataset.source}, ${trainer.dataset.train.length} training / ${trainer.dataset.validation.length} validation rows${rows.note}, `
        + `tasks ${names.join(', ')}; ${trainer.spec.mixture ? `${trainer.spec.mixture.architecture} model, ` : ''}strategy ${label}, plan ${trainer.plan}, `
        + `${workers} workers, ${trainer.shards} shard(s), ${trainer.kernels.backend} kernels; `
        + `${config.schedule.kind !== 'constant' ? `lr schedule ${describeSchedule(config.schedule, perEpoch)}; ` : ''}`
        + `${config.initWeights && !checkpoint ? `initial weights ${config.initWeights}; ` : ''}run ${run.dir}`);
      out.info('each task: loss train/validation, metric train/validation');
    }
    out.json({
      type: 'start', run: run.dir, source: trainer.dataset.source, tasks: names, strategy: label, plan: trainer.plan, workers,
      shards: trainer.shards, trainRows: trainer.dataset.train.length, validationRows: trainer.dataset.validation.length,
      stepsPerEpoch: perEpoch, epochs, resumedAt: checkpoint?.data.step ?? null, droppedRows: rows.dropped, unlabelled: rows.unlabelled,
    });
    let seconds = 0;
    let steps = 0;
    let conflictSum = 0;
    let conflictSteps = 0;
    await trainer.fit({
      epochs: Math.max(0, epochs - trainer.epoch),
      checkpointEvery: config.checkpointEvery,
      shouldStop: () => stopSignal !== undefined,
      onStep: (r: StepReport) => {
        const record: StepRecord = { type: 'step', step: r.step, epoch: r.epoch, losses: r.losses, ...diagnosticFields(r.diagnostics, names), timing: roundTiming(r.timing) };
        run.record(record);
        out.json(record);
        if (r.diagnostics) {
          conflictSum += r.diagnostics.conflicts;
          conflictSteps++;
        }
        progress ??= out.epochProgress(r.epoch, epochs, perEpoch);
        progress.update(r.step - r.epoch * perEpoch + 1, r.losses);
        for (const w of trainer.warnings.splice(0)) out.warn(w);
      },
      onEpoch: (r: EpochReport) => {
        progress?.stop();
        progress = undefined;
        seconds += r.seconds;
        steps += r.steps;
        const train = evalRecord(r.epoch, trainer.steps, 'train', r.train);
        const validation = { ...evalRecord(r.epoch, trainer.steps, 'validation', r.validation), ...(r.gates ? { gates: r.gates } : {}) };
        run.record(train);
        run.record(validation);
        if (verbose) out.info(epochLine(r, epochs, out.style));
        out.json({ type: 'epoch', epoch: r.epoch, steps: r.steps, seconds: r.seconds, stepsPerSecond: r.stepsPerSecond, train: train.tasks, validation: validation.tasks, conflict: r.conflict ?? null, ...(r.gates ? { gates: r.gates } : {}) });
      },
      onCheckpoint: (data) => {
        run.checkpoint(data, config.keepCheckpoints);
      },
    });
    progress?.stop();
    if (trainer.stoppedEarly && stopSignal) {
      const path = run.checkpoint(trainer.snapshot(), config.keepCheckpoints);
      out.warn(`stopped by ${stopSignal} at step ${trainer.steps}; checkpoint ${path}; continue with: multitask train --resume ${run.dir}`);
      return { code: SIGNAL_EXIT[stopSignal] ?? 1, dir: run.dir };
    }
    const best = config.keep === 'best' ? trainer.earlyStopping?.state : undefined;
    if (verbose && trainer.earlyStopped) out.info(`multitask: stopped early after epoch ${trainer.epoch}: no improvement of ${config.earlyStopping!.on} for ${config.earlyStopping!.patience} epochs`);
    if (verbose && best?.bestParams) out.info(`multitask: weights.safetensors holds epoch ${best.bestEpoch + 1}'s weights, the best by ${config.earlyStopping!.on}`);
    trainer.model(config.keep).save(run.weightsPath, { strategy: label, epochs: String(epochs), ...(best?.bestParams ? { bestEpoch: String(best.bestEpoch + 1) } : {}) });
    if (config.saveWeights) {
      mkdirSync(dirname(resolve(config.saveWeights)), { recursive: true });
      copyFileAtomic(run.weightsPath, config.saveWeights);
    }
    // the test split is looked at once, here, with the weights the run keeps
    const test = config.test ? testSetReport(trainer.model(config.keep), config.test) : undefined;
    const summary = summarize(run, trainer, run.dir.split(/[\\/]/).at(-1)!, seconds, steps, {
      epochs,
      ...(test ? { test: { source: config.test, rows: test.rows, droppedRowsMissingFeature: test.dropped, tasks: test.reports } } : {}),
      ...(config.classWeights ? { classWeights: config.classWeights } : {}),
      meanConflicts: conflictSteps > 0 ? conflictSum / conflictSteps : null,
      ...(trainer.cluster ? { cluster: trainer.cluster } : {}),
      trainRows: trainer.dataset.train.length,
      validationRows: trainer.dataset.validation.length,
      droppedRowsMissingFeature: rows.dropped.missingFeature,
      unlabelled: rows.unlabelled,
      ...(trainer.earlyStopping ? { bestEpoch: trainer.earlyStopping.state.bestEpoch + 1, stoppedEarly: trainer.earlyStopped, keep: config.keep } : {}),
    });
    run.writeSummary(summary);
    const validation = trainer.evaluate('validation');
    const wallSeconds = (performance.now() - (s.startedAt ?? 0)) / 1000;
    if (verbose) {
      out.result(`\nFinal validation (${label}):`);
      out.result(summaryTable(summary.tasks, validation, { steps, seconds, wallSeconds }, out.style));
      if (test) {
        out.result(`\nTest set (${config.test}: ${test.rows} rows${test.dropped > 0 ? `, ${test.dropped} dropped: a feature value missing` : ''}; ${config.keep === 'best' ? 'the best epoch\'s' : 'the final'} weights):`);
        out.result(evalTable(test.reports, out));
      }
      if (s.profile) {
        const loop = stepLoopLine(trainer.loopStats, trainer.profile.steps);
        out.result(`\n${profileTable(trainer.profile)}\n${placementLine(trainer.placement)}${loop ? `\n${loop}` : ''}`);
      }
      if (s.profile && trainer.cluster) out.result(clusterLine(trainer.cluster, trainer.steps));
    }
    let reportPath: string | null = null;
    if (s.report ?? config.report) {
      reportPath = (await writeReport(run.dir)).path;
      if (verbose) out.info(`run: ${run.dir} (report ${reportPath})`);
    } else if (verbose) out.info(`run: ${run.dir}`);
    if (verbose && config.saveWeights) out.info(`weights also saved to ${config.saveWeights}`);
    out.json({ type: 'summary', ...summary, wallSeconds, dir: run.dir, report: reportPath, validation, computeOn: trainer.placement, stepLoop: trainer.loopStats });
    return { code: 0, dir: run.dir, summary, validation };
  } catch (e) {
    progress?.stop();
    run.flush();
    // no worker for cluster.waitMs: the trainer is between steps; keep them all
    const last = e instanceof ClusterUnavailableError ? run.checkpoint(trainer.snapshot(), config.keepCheckpoints) : run.lastGoodCheckpoint;
    const again = config.cluster ? ` --cluster ${redactUrl(config.cluster.url)}` : '';
    if (e instanceof Error && last) e.message += ` (last good checkpoint: ${last}; continue with: multitask train --resume ${run.dir}${again})`;
    throw e;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    try {
      await trainer.close();
    } finally {
      run.close();
    }
  }
}
