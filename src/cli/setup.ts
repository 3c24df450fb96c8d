/**
 * From a complete CLI config to the library's TrainerConfig: loads the data
 * (tables, .npy, several files, synthetic) and maps the fields.
 */
import type { Dataset } from '../data/dataset.js';
import { buildDataset } from '../data/dataset-from-table.js';
import { tableFromJsonl } from '../data/jsonl.js';
import { datasetFromNpy, type NpyTarget } from '../data/npy.js';
import { syntheticDataset, type SyntheticKind } from '../data/synthetic.js';
import { loadTable } from '../data/load-table.js';
import { concatTaskDatasets } from '../data/task-parts.js';
import { tableFromCsv, tableFromJsonFile, type Table } from '../data/table.js';
import { checkTaskSpec, type TaskSpec } from '../data/task-spec.js';
import type { Activation } from '../kernels/types.js';
import { validateOptimizerConfig, type OptimizerConfig } from '../optim/index.js';
import type { DataConfig, TrainerConfig } from '../trainer/config.js';
import type { LrSchedule } from '../trainer/schedule.js';
import { UserError } from '../util/errors.js';
import { dataFormat, type CliConfig, type DataFormat, type ScheduleEntry, type TaskEntry } from './config.js';

/**
 * TrainerConfig plus the schedule fields the trainer takes once
 * src/trainer/schedule.ts is wired in (see `schedulesSupported`).
 */
export type CliTrainerConfig = TrainerConfig & { lrSchedule?: LrSchedule; taskLrSchedules?: Record<string, LrSchedule> };

function taskSpec(t: TaskEntry, i: number): TaskSpec {
  const spec: TaskSpec = { name: t.name ?? t.column!, column: t.column ?? t.name!, loss: t.loss };
  if (t.classes) spec.classes = [...t.classes];
  checkTaskSpec(spec, `tasks[${i}]`);
  return spec;
}

function readTable(path: string, format: DataFormat | undefined): Table {
  switch (format) {
    case 'csv': return tableFromCsv(path);
    case 'json': return tableFromJsonFile(path);
    case 'jsonl': return tableFromJsonl(path);
    default: return loadTable(path);
  }
}

/** The data: the built-in penguins, synthetic data, a table (or one per task), or .npy files. */
export function dataConfig(c: CliConfig): DataConfig {
  const data = c.data ?? {};
  const seed = c.seed ?? 0;
  const validationFraction = c.validation;
  if (data.synthetic) {
    const s = data.synthetic;
    const dataset: Dataset = syntheticDataset({
      ...s,
      kinds: s.kinds as SyntheticKind | SyntheticKind[] | undefined,
      seed: s.seed ?? seed,
      validationFraction,
    });
    return { kind: 'dataset', dataset };
  }
  if (data.path === undefined) {
    if (data.features !== undefined) throw new UserError('data.features (--features): only with a data file; the built-in data set has its own features');
    return { kind: 'penguins' };
  }
  const format = dataFormat(c);
  const tasks = c.tasks ?? [];
  if (format === 'npy') {
    const targets: Record<string, NpyTarget> = {};
    tasks.forEach((t, i) => {
      const spec = taskSpec({ ...t, column: t.targets }, i);
      if (Object.hasOwn(targets, spec.name)) throw new UserError(`tasks[${i}]: two tasks are named ${JSON.stringify(spec.name)}`);
      targets[spec.name] = { path: t.targets!, loss: t.loss, classes: t.classes ? [...t.classes] : undefined };
    });
    return { kind: 'dataset', dataset: datasetFromNpy({ features: data.path, targets, featureNames: data.featureNames, seed, validationFraction }) };
  }
  const specs = tasks.map(taskSpec);
  const features = data.features ? [...data.features] : undefined;
  if (tasks.some((t) => t.path !== undefined)) {
    // tasks with their own rows: one part per file, in order of first appearance
    const files = new Map<string, TaskSpec[]>();
    tasks.forEach((t, i) => {
      const file = t.path ?? data.path!;
      files.set(file, [...(files.get(file) ?? []), specs[i]]);
    });
    const parts = [...files].map(([file, ts]) => ({ table: readTable(file, file === data.path ? format : undefined), tasks: ts }));
    return { kind: 'dataset', dataset: concatTaskDatasets(parts, { features, seed, validationFraction }) };
  }
  if (format === 'csv') return { kind: 'csv', path: data.path, tasks: specs, features };
  return { kind: 'dataset', dataset: buildDataset(readTable(data.path, format), { tasks: specs, features, seed, validationFraction }) };
}

function schedule(s: ScheduleEntry | undefined, epochs: number): LrSchedule | undefined {
  if (!s || s.kind === 'constant') return undefined;
  const out: LrSchedule = { ...s };
  // the cosine horizon defaults to the whole run
  if (s.kind === 'cosine' && s.totalSteps === undefined && s.totalEpochs === undefined) out.totalEpochs = epochs;
  return out;
}

/** The optimizer settings, checked (e.g. momentum with adam is an error). */
export function optimizerConfig(c: CliConfig): OptimizerConfig {
  return validateOptimizerConfig({ name: 'adam', lr: 0.01, ...c.optimizer }, 'optimizer');
}

/** A complete CLI config (see completeConfig) as the Trainer's config, with the data loaded. */
export function trainerConfig(c: CliConfig, workers?: number): CliTrainerConfig {
  const activation = (c.model?.activation ?? 'relu') as Activation;
  const heads: TrainerConfig['heads'] = {};
  for (const [task, head] of Object.entries(c.model?.heads ?? {})) {
    heads[task] = head.hidden ? { hidden: { units: head.hidden.units, activation: (head.hidden.activation ?? 'relu') as Activation } } : {};
  }
  const epochs = c.epochs ?? 30;
  const taskSchedules = Object.entries(c.taskSchedules ?? {});
  if (taskSchedules.length > 0 && c.strategy !== 'sequential') {
    throw new UserError(`taskSchedules: per-task schedules need the "sequential" strategy (one optimizer per task); strategy is ${JSON.stringify(c.strategy ?? 'sum')}`);
  }
  const config: CliTrainerConfig = {
    data: dataConfig(c),
    trunk: (c.model?.trunk ?? [64, 64]).map((units) => ({ units, activation })),
    heads,
    taskWeights: c.taskWeights,
    strategy: c.strategy,
    strategyOptions: c.strategyOptions,
    weighting: c.weighting,
    sequentialMode: c.sequentialMode as TrainerConfig['sequentialMode'],
    plan: c.plan as TrainerConfig['plan'],
    optimizer: optimizerConfig(c),
    taskLr: c.taskLr,
    batchSize: c.batchSize,
    shards: c.shards,
    workers: workers ?? c.workers,
    seed: c.seed,
    validationFraction: c.validation,
    onNonFinite: c.onNonFinite,
    jobTimeoutMs: c.jobTimeoutMs,
    jobRetries: c.jobRetries,
    clipGradNorm: c.clipGradNorm === undefined ? undefined : { max: c.clipGradNorm, per: c.clipPer ?? 'global' },
  };
  const lr = schedule(c.schedule, epochs);
  if (lr) config.lrSchedule = lr;
  if (taskSchedules.length > 0) {
    config.taskLrSchedules = Object.fromEntries(taskSchedules.map(([task, s]) => [task, schedule(s, epochs) ?? { kind: 'constant' }]));
  }
  return config;
}

/** True when the Trainer applies learning-rate schedules (its resolved config carries them). */
export function schedulesSupported(resolved: object): boolean {
  return 'lrSchedule' in resolved;
}

/** Fails clearly when a schedule was asked for but this Trainer cannot apply it. */
export function checkSchedulesApplied(config: CliTrainerConfig, resolved: object): void {
  if ((config.lrSchedule || config.taskLrSchedules) && !schedulesSupported(resolved)) {
    throw new UserError('schedule: this build\'s Trainer does not apply learning-rate schedules yet (use kind "constant")');
  }
}
