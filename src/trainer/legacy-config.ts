/**
 * Run directories written by earlier versions: their config.json, and the
 * config hash their checkpoints carry.
 *
 * - format 2: `{format: 2, config: <config-file shape>}` — the config itself.
 * - format 1: `{format: 1, trainer: <the old API shape>, epochs, checkpointEvery, keepCheckpoints}`.
 * - today: the resolved config itself (no wrapper).
 */
import type { Dataset } from '../data/dataset.js';
import { optimizerSchema } from '../optim/config.js';
import { configHash } from './checkpoint.js';
import { dropUndefined, type LayerEntry, type ResolvedConfig, type TaskEntry, type TrainerConfig } from './config.js';
import { UserError } from '../util/errors.js';

type Layer = { units: number; activation?: string };
type OldTask = { name: string; column?: string; loss: string; classes?: string[] };
type OldData =
  | { kind: 'penguins' }
  | { kind: 'csv'; path: string; tasks: OldTask[]; features?: string[] }
  | { kind: 'files'; files: { path: string; tasks: OldTask[] }[]; features?: string[] }
  | { kind: 'npy'; features: string; targets: Record<string, { path: string; loss: string; classes?: string[] }> }
  | { kind: 'synthetic'; options?: Record<string, unknown> };

const task = (t: OldTask, path?: string) => ({ name: t.name, column: t.column, loss: t.loss, classes: t.classes, path });

/** The data and tasks of a format-1 config in the config-file shape. */
function oldData(data: OldData | undefined, source: string): Pick<TrainerConfig, 'data' | 'tasks'> {
  switch (data?.kind ?? 'penguins') {
    case 'penguins': return {};
    case 'csv': {
      const d = data as Extract<OldData, { kind: 'csv' }>;
      return { data: { path: d.path, features: d.features }, tasks: d.tasks.map((t) => task(t)) as TaskEntry[] };
    }
    case 'files': {
      const d = data as Extract<OldData, { kind: 'files' }>;
      return { data: { path: d.files[0].path, features: d.features }, tasks: d.files.flatMap((f) => f.tasks.map((t) => task(t, f.path))) as TaskEntry[] };
    }
    case 'npy': {
      const d = data as Extract<OldData, { kind: 'npy' }>;
      return { data: { path: d.features, format: 'npy' }, tasks: Object.entries(d.targets).map(([name, t]) => ({ name, targets: t.path, loss: t.loss, classes: t.classes })) as TaskEntry[] };
    }
    case 'synthetic':
      return { data: { synthetic: (data as Extract<OldData, { kind: 'synthetic' }>).options ?? {} } };
    default:
      throw new UserError(`${source}: data of kind ${JSON.stringify(data?.kind)} cannot be read back (a run started from an in-memory Dataset)`);
  }
}

/** A format-1 trainer config (the old API shape) in the config-file shape. */
function fromFormat1(stored: Record<string, unknown>, source: string): TrainerConfig {
  const t = stored.trainer as Record<string, unknown>;
  const trunk = t.trunk as Layer[] | undefined;
  const activation = trunk?.[0]?.activation ?? 'relu';
  const uniform = trunk?.every((l) => (l.activation ?? 'relu') === activation) ?? true;
  const clip = t.clipGradNorm as { max: number; per?: 'global' | 'task' } | undefined;
  return dropUndefined({
    ...oldData(t.data as OldData | undefined, source),
    validation: t.validationFraction,
    model: { trunk: trunk && (uniform ? trunk.map((l) => l.units) : trunk as LayerEntry[]), activation: trunk && uniform ? activation : undefined, heads: t.heads },
    taskWeights: t.taskWeights,
    taskLr: t.taskLr,
    strategy: t.strategy,
    strategyOptions: t.strategyOptions,
    weighting: t.weighting ?? undefined,
    sequentialMode: t.sequentialMode,
    plan: t.plan,
    optimizer: t.optimizer,
    schedule: t.lrSchedule ?? undefined,
    taskSchedules: t.taskLrSchedules,
    batchSize: t.batchSize,
    shards: t.shards === 'auto' ? undefined : t.shards,
    seed: t.seed,
    onNonFinite: t.onNonFinite,
    jobTimeoutMs: t.jobTimeoutMs,
    jobRetries: t.jobRetries,
    clipGradNorm: clip?.max,
    clipPer: clip?.per,
    epochs: stored.epochs,
    checkpointEvery: stored.checkpointEvery,
    keepCheckpoints: stored.keepCheckpoints,
  } as TrainerConfig);
}

/** A run directory's config.json as a config (today's, format 2 or format 1). */
export function runConfig(value: unknown, source: string): TrainerConfig {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new UserError(`${source}: not a multitask run config`);
  const v = value as Record<string, unknown>;
  if (v.format === 2 && typeof v.config === 'object') return v.config as TrainerConfig;
  if (v.format === 1) {
    if (typeof v.trainer !== 'object' || v.trainer === null || !Number.isSafeInteger(v.epochs)) {
      throw new UserError(`${source}: not a multitask run config (format 1 needs "trainer" and "epochs")`);
    }
    return fromFormat1(v, source);
  }
  if ('format' in v) throw new UserError(`${source}: run config format ${JSON.stringify(v.format)} is not one this version reads (2, 1, or a config)`);
  return v as TrainerConfig;
}

/**
 * The config hash a run with these settings got before the config had one shape
 * (the old resolved API config), so checkpoints written then still resume.
 * Optimizer fields at their defaults are taken as not given (as they were stored).
 */
export function legacyConfigHash(c: ResolvedConfig, dataset: Dataset): string {
  const d = c.data;
  const specs = (c.tasks ?? []).map((t) => dropUndefined({ name: t.name ?? t.column, column: t.column ?? t.name, loss: t.loss, classes: t.classes }));
  const data = d.kind === 'builtin' ? { kind: 'penguins' }
    : d.kind === 'file' && d.format === 'csv' && !c.tasks?.some((t) => t.path) ? { kind: 'csv', path: d.path, tasks: specs, features: d.features }
      : { source: dataset.source, rows: dataset.rows, inputWidth: dataset.inputWidth };
  const o = c.optimizer;
  const defaults = optimizerSchema.parse({ name: o.name, lr: o.lr }) as unknown as Record<string, unknown>;
  const optimizer: Record<string, unknown> = { name: o.name, lr: o.lr };
  for (const [k, v] of Object.entries(o)) if (JSON.stringify(v) !== JSON.stringify(defaults[k])) optimizer[k] = v;
  const schedule = (s: ResolvedConfig['schedule']) => dropUndefined({ ...s });
  return configHash(dropUndefined({
    onNonFinite: c.onNonFinite,
    clipGradNorm: c.clipGradNorm === undefined ? null : { max: c.clipGradNorm, per: c.clipPer },
    jobTimeoutMs: c.jobTimeoutMs,
    lrSchedule: c.schedule.kind === 'constant' ? null : schedule(c.schedule),
    taskLrSchedules: Object.fromEntries(Object.entries(c.taskSchedules).map(([k, s]) => [k, schedule(s)])),
    jobRetries: c.jobRetries,
    data,
    trunk: c.model.trunk.map((l) => (typeof l === 'number' ? { units: l, activation: c.model.activation } : { units: l.units, activation: l.activation ?? c.model.activation })),
    heads: Object.fromEntries(Object.entries(c.model.heads).map(([k, h]) => [k, h.hidden ? { hidden: { units: h.hidden.units, activation: h.hidden.activation ?? 'relu' } } : {}])),
    taskWeights: c.taskWeights,
    strategy: c.strategy,
    strategyOptions: c.strategyOptions,
    weighting: c.weighting ?? null,
    sequentialMode: c.sequentialMode,
    plan: c.plan,
    optimizer,
    taskLr: c.taskLr,
    batchSize: c.batchSize,
    shards: c.shards ?? 'auto',
    seed: c.seed,
    validationFraction: c.validation,
  }));
}
