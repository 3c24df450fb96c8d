import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { kernelNotice } from '../kernels/index.js';
import { saveParameters } from '../model/safetensors.js';
import { writeReport } from '../report/index.js';
import { RUN_FILES, validateRecord, type EvalRecord, type RunSummary } from '../report/run-format.js';
import type { TrainerConfig } from '../trainer/config.js';
import type { EpochReport, TaskMetricsByName } from '../trainer/metrics.js';
import { RunDirectory } from '../trainer/run-dir.js';
import { Trainer } from '../trainer/trainer.js';
import { UserError } from '../util/errors.js';
import { epochLine, profileTable, summaryTable } from './format.js';

/** What runs/<name>/config.json holds: everything needed to run, or resume, the same training. */
export interface RunConfig {
  format: 1;
  trainer: TrainerConfig;
  epochs: number;
  checkpointEvery: number;
  keepCheckpoints: number;
}

export interface TrainSession {
  runConfig: RunConfig;
  runsDir: string;
  name?: string;
  /** resume this run directory instead of starting a new one */
  resume?: string;
  /** overrides the config's worker count (results do not depend on it) */
  workers?: number;
  profile?: boolean;
  report?: boolean;
}

/** Microsecond precision is plenty in metrics.jsonl. */
function roundTiming(t: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(t)) out[k] = Math.round(v * 1000) / 1000;
  return out;
}

const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

function checkRunConfig(value: unknown, source: string): RunConfig {
  const c = value as RunConfig;
  if (!c || typeof c !== 'object' || c.format !== 1 || typeof c.trainer !== 'object' || !Number.isSafeInteger(c.epochs)) {
    throw new UserError(`${source}: not a multitask run config (format 1 with "trainer" and "epochs")`);
  }
  return c;
}

function evalRecord(epoch: number, step: number, split: 'train' | 'validation', tasks: TaskMetricsByName): EvalRecord {
  const out: EvalRecord['tasks'] = {};
  for (const [name, m] of Object.entries(tasks)) out[name] = { loss: m.loss, metric: m.metric, metricName: m.metricName };
  return { type: 'eval', epoch, step, split, tasks: out };
}

/** Best and final validation metric per task, over every evaluation in metrics.jsonl (resumed runs included). */
function summarize(run: RunDirectory, trainer: Trainer, name: string, seconds: number, steps: number): RunSummary {
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
    strategy: trainer.config.strategy === 'sequential' ? `sequential ${trainer.config.sequentialMode}` : trainer.config.strategy,
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
  };
}

/**
 * `multitask train`: a new run directory (or a resumed one), one line per
 * epoch, checkpoints every N steps and per epoch, and on SIGINT/SIGTERM a
 * checkpoint after the step in flight. Returns the exit code.
 */
export async function trainCommand(s: TrainSession, print: (line: string) => void): Promise<number> {
  const opened = s.resume ? RunDirectory.open(s.resume) : undefined;
  const runConfig = opened ? checkRunConfig(opened.config, join(s.resume!, RUN_FILES.config)) : s.runConfig;
  const checkpoint = opened?.checkpoint;
  const notice = kernelNotice();
  if (notice) process.stderr.write(`${notice}\n`);
  // the trainer first: bad data or options fail before a run directory exists
  const trainer = await Trainer.create({ ...runConfig.trainer, ...(s.workers ? { workers: s.workers } : {}) });
  let run: RunDirectory;
  try {
    run = opened?.run ?? RunDirectory.create(s.runsDir, s.name, runConfig.trainer.strategy ?? 'sum', runConfig);
  } catch (e) {
    await trainer.close();
    throw e;
  }
  let stopSignal: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopSignal) process.exit(SIGNAL_EXIT[signal] ?? 1); // second signal: at once; the last checkpoint stays intact
    stopSignal = signal;
    process.stderr.write(`multitask: ${signal}: finishing the step in flight, then writing a checkpoint (again to quit at once)\n`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    if (checkpoint) {
      trainer.restore(checkpoint.data, checkpoint.path);
      run.truncateMetricsTo(checkpoint.data);
      print(`multitask: resuming ${run.dir} at epoch ${checkpoint.data.epoch + 1}, step ${checkpoint.data.step}`);
    } else if (s.resume) {
      run.truncateMetricsTo({ step: 0, epoch: 0 });
      print(`multitask: ${run.dir} has no checkpoint yet; starting it from the beginning`);
    }
    const { strategy, sequentialMode, workers } = trainer.config;
    const mode = strategy === 'sequential' ? ` (${sequentialMode})` : '';
    print(`multitask: ${trainer.dataset.source}, ${trainer.dataset.train.length} training / ${trainer.dataset.validation.length} validation rows, `
      + `tasks ${trainer.spec.tasks.map((t) => t.name).join(', ')}; strategy ${strategy}${mode}, plan ${trainer.plan}, `
      + `${workers} workers, ${trainer.shards} shard(s), ${trainer.kernels.backend} kernels; run ${run.dir}`);
    print('each task: loss train/validation, metric train/validation');
    let seconds = 0;
    let steps = 0;
    const epochs = runConfig.epochs;
    await trainer.fit({
      epochs: Math.max(0, epochs - trainer.epoch),
      checkpointEvery: runConfig.checkpointEvery,
      shouldStop: () => stopSignal !== undefined,
      onStep: (r) => {
        run.record({ type: 'step', step: r.step, epoch: r.epoch, losses: r.losses, timing: roundTiming(r.timing) });
        for (const w of trainer.warnings.splice(0)) process.stderr.write(`multitask: ${w}\n`);
      },
      onEpoch: (r: EpochReport) => {
        seconds += r.seconds;
        steps += r.steps;
        run.record(evalRecord(r.epoch, trainer.steps, 'train', r.train));
        run.record(evalRecord(r.epoch, trainer.steps, 'validation', r.validation));
        print(epochLine(r, epochs));
      },
      onCheckpoint: (data) => {
        run.checkpoint(data, runConfig.keepCheckpoints);
      },
    });
    if (trainer.stoppedEarly && stopSignal) {
      const path = run.checkpoint(trainer.snapshot(), runConfig.keepCheckpoints);
      process.stderr.write(`multitask: stopped by ${stopSignal} at step ${trainer.steps}; checkpoint ${path}; continue with: multitask train --resume ${run.dir}\n`);
      return SIGNAL_EXIT[stopSignal] ?? 1;
    }
    saveParameters(run.weightsPath, trainer.params, { strategy, epochs: String(epochs) });
    run.writeSummary(summarize(run, trainer, run.dir.split('/').at(-1)!, seconds, steps));
    print(`\n${steps} steps in ${seconds.toFixed(2)} s (${(steps / Math.max(seconds, 1e-9)).toFixed(1)} steps/s). Final validation:`);
    print(summaryTable(trainer.evaluate('validation')));
    if (s.profile) print(`\n${profileTable(trainer.profile)}`);
    if (s.report !== false) {
      const report = await writeReport(run.dir);
      print(`run: ${run.dir} (report ${report.path})`);
    }
    return 0;
  } catch (e) {
    run.flush();
    const last = run.latestCheckpoint();
    if (e instanceof Error && last) e.message += ` (last good checkpoint: ${last}; continue with: multitask train --resume ${run.dir})`;
    throw e;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await trainer.close();
  }
}
