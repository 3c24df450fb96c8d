/**
 * The run config: one zod schema, the single source of its shape, its defaults
 * and its validation, for a config file (`multitask train --config`), the
 * command-line flags (which only map onto it) and `Trainer.create` alike. A
 * run directory's config.json holds a resolved config, which `Trainer.create`
 * takes as it is.
 *
 * - `TrainerConfig` (z.input): what a user writes; every field optional.
 * - `ResolvedConfig` (z.output, then `resolveConfig`): every default filled in,
 *   the derived ones too (cosine horizon = epochs, clipPer with clipGradNorm,
 *   workers = available cores, data kind and format).
 *
 * Fields only for a run directory (`name`, `runsDir`, `checkpointEvery`,
 * `keepCheckpoints`, `report`, `saveWeights`) are part of the schema so one
 * file serves both; `Trainer` ignores them.
 */
import { availableParallelism } from 'node:os';
import { extname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { ACTIVATIONS, LOSS_KINDS } from '../kernels/types.js';
import { ARCHITECTURES, type MixtureSpec } from '../model/spec.js';
import { optimizerSchema } from '../optim/config.js';
import { getStrategy, parseStrategyOptions, strategyNames, type StrategyOptions } from '../strategies/index.js';
import { UserError } from '../util/errors.js';
import { classWeightSchema } from './class-weights.js';
import { configError, defaultExpected, formatPath, ONLY_IF_VALID } from './config-messages.js';
import { checkSchedule, LR_SCHEDULE_KINDS, type LrSchedule } from './schedule.js';

/**
 * 'sum' (one step on Σ w·L), 'sequential' (one step per task), or any registered
 * gradient-combination or loss-weighting strategy (src/strategies: pcgrad, mgda,
 * upgrad, uncertainty, ...), which then combines the per-task gradients of the
 * shared parameters into one step.
 */
export type StrategyName = string;
export const BASE_STRATEGIES = ['sum', 'sequential'] as const;

/** Every name `strategy` accepts. */
export function strategyChoices(): string[] {
  return [...BASE_STRATEGIES, ...strategyNames().filter((n) => n !== 'sum')];
}
export type SequentialMode = 'fresh' | 'stale';
export const SEQUENTIAL_MODES: readonly SequentialMode[] = ['fresh', 'stale'];
export type PlanName = 'auto' | 'fused' | 'per-task';
export const PLAN_NAMES: readonly PlanName[] = ['auto', 'fused', 'per-task'];
/** Where a run's gradient jobs are computed (see src/trainer/auto-runner.ts). */
export const COMPUTE_PLACES = ['auto', 'workers', 'coordinator'] as const;
export type ComputePlace = (typeof COMPUTE_PLACES)[number];
export const DATA_FORMATS = ['csv', 'json', 'jsonl', 'npy'] as const;
export type DataFormat = (typeof DATA_FORMATS)[number];
export const DATA_KINDS = ['file', 'builtin', 'synthetic', 'arrays'] as const;

// ---------------------------------------------------------------------------
// Schema pieces

export const TASK_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RUN_NAME = /^[\w.=-]+$/;
export const MAX_RUN_NAME = 100;

/** Why `name` cannot be a run name (one path segment inside the runs dir), or undefined when it can. */
export function runNameProblem(name: string): string | undefined {
  if (!RUN_NAME.test(name)) return 'a run name (letters, digits, ".", "=", "-" and "_")';
  if (name === '.' || name === '..') return 'one path segment (a run name other than "." or "..")';
  if (name.length > MAX_RUN_NAME) return `a run name of at most ${MAX_RUN_NAME} characters (${name.length} given)`;
  return undefined;
}

const positiveInt = () => z.number({ error: 'a positive integer' }).int({ error: 'a positive integer' }).min(1, { error: 'a positive integer' });
const nonNegativeInt = () => z.number({ error: 'a non-negative integer' }).int({ error: 'a non-negative integer' }).min(0, { error: 'a non-negative integer' });
const positiveNumber = () => z.number({ error: 'a number > 0' }).gt(0, { error: 'a number > 0' });
const nonNegativeNumber = () => z.number({ error: 'a number ≥ 0' }).min(0, { error: 'a number ≥ 0' });
const fraction = () => z.number({ error: 'a number in [0, 1)' }).min(0, { error: 'a number in [0, 1)' }).lt(1, { error: 'a number in [0, 1)' });
const path = () => z.string({ error: 'a file path' }).min(1, { error: 'a file path' });
const names = () => z.array(z.string({ error: 'a string' }).min(1, { error: 'a non-empty string' }), { error: 'a list of strings' });

/** A strict object whose unknown-key message lists the known keys. */
function strict<T extends z.ZodRawShape>(shape: T) {
  const keys = Object.keys(shape);
  return z.strictObject(shape, {
    error: (issue) => (issue.code === 'unrecognized_keys' ? `known keys: ${keys.join(', ')}` : 'an object'),
  });
}

/** A map from task name to a value. */
const byTask = <T extends z.ZodType>(value: T) => z.record(z.string(), value, { error: 'an object of task: value' });

const weightingNames = () => strategyNames().filter((n) => getStrategy(n).kind === 'weighting');

/** A typed array (API only: a config file is JSON). */
const typedArray = () => z.custom<Float32Array | Float64Array | Int32Array | Uint8Array>(
  (v) => ArrayBuffer.isView(v) && !(v instanceof DataView), { error: 'a typed array' });
const cell = () => z.union([z.number(), z.nan(), z.string(), z.null()], { error: 'a number, a string or null (NaN: missing)' });
const column = () => z.union([z.array(cell(), { error: 'a list of values' }), typedArray()], { error: 'a list of values or a typed array' });

const syntheticSchema = strict({
  rows: positiveInt().optional().describe('rows (default 4000)'),
  inputWidth: positiveInt().optional().describe('input width (default 32)'),
  tasks: positiveInt().optional().describe('number of tasks (default 2)'),
  correlation: z.union([z.number(), z.array(z.array(z.number()))], { error: 'a number in [-1, 1] or a correlation matrix' }).optional()
    .describe('task relatedness: cosine between the tasks\' weight vectors (default 0.5), or a full matrix'),
  kinds: z.union([z.enum(['regression', 'classification']), z.array(z.enum(['regression', 'classification']))]).optional()
    .describe('regression (default) or classification, for all tasks or per task'),
  names: names().optional().describe('task names (default task_0, task_1, ...)'),
  noise: nonNegativeNumber().optional().describe('noise standard deviation (default 0.1)'),
  scale: positiveNumber().optional(),
  sinusoids: nonNegativeInt().optional(),
  seed: nonNegativeInt().optional().describe('seed of the generated data (default: the run seed)'),
});

const fileDataSchema = strict({
  path: path().optional().describe('data file: .csv, .json (array of records), .jsonl, or .npy (feature matrix); default: the built-in penguins'),
  format: z.enum(DATA_FORMATS).optional().describe('file format (default: from the extension; anything unknown reads as CSV)'),
  features: names().optional().describe('feature columns (default: every column that is not a target); "name:category" forces one-hot'),
  featureNames: names().optional().describe('.npy data: names of the feature matrix\'s columns (default x0, x1, ...)'),
  builtin: z.enum(['penguins']).optional().describe('a built-in data set'),
  synthetic: syntheticSchema.optional().describe('generated data with controllable task relatedness (Ma et al. 2018)'),
  kind: z.enum(['file', 'builtin', 'synthetic']).optional().describe('what the data is (default: from the fields given)'),
});

const arraysDataSchema = strict({
  kind: z.literal('arrays').describe('in-memory data (API): table columns or a row-major matrix, plus per-task targets'),
  columns: z.record(z.string(), column(), { error: 'an object of column: values' }).optional()
    .describe('a table\'s columns (numbers, strings, null = missing), encoded as a CSV table\'s'),
  matrix: z.union([z.array(z.array(z.union([z.number(), z.nan()], { error: 'a number (NaN: missing)' })), { error: 'a list of rows' }), typedArray()],
    { error: 'a list of rows of numbers or a row-major typed array' }).optional().describe('a numeric feature matrix (rows × inputs), as a .npy file\'s'),
  width: positiveInt().optional().describe('a typed-array matrix: its number of columns (default: featureNames\' length)'),
  featureNames: names().optional().describe('matrix: names of its columns (default x0, x1, ...)'),
  features: names().optional().describe('columns: the feature columns (default: every column that is not a target)'),
  targets: z.record(z.string(), column(), { error: 'an object of task or column: values' }).optional()
    .describe('per task (by name or column): its labels (null or NaN: unlabelled)'),
});

/** Worker processes over NATS (`multitask worker --connect URL`). */
const clusterSchema = strict({
  url: z.string({ error: 'a NATS URL' }).min(1, { error: 'a NATS URL' })
    .describe('nats://[token@ | user:password@]host[:port] of the NATS server the workers joined'),
  creds: path().optional().describe('a NATS credentials file'),
  tlsCa: path().optional().describe('a CA certificate (PEM) to verify the server\'s TLS certificate'),
  waitMs: positiveInt().default(30_000).describe('with no worker for this long the run checkpoints and stops (default 30000)'),
  kernels: z.enum(['avx512', 'avx2', 'scalar', 'js']).optional()
    .describe('the kernels every process computes with (default: the fastest every worker present at the start supports)'),
  localWorkers: nonNegativeInt().default(0).describe('local worker threads computing jobs too (default 0: the cluster only)'),
});

/** Where the rows come from: a file, the built-in data, synthetic data, or arrays (API). Default: the built-in penguins. */
export const dataSchema = z.union([arraysDataSchema, fileDataSchema], { error: 'an object' });

const taskSchema = strict({
  name: z.string({ error: 'a task name' }).regex(TASK_NAME, { error: 'a task name (letters, digits and _, not starting with a digit)' }).optional()
    .describe('task name (default: the column)'),
  column: z.string({ error: 'a column name' }).min(1, { error: 'a column name' }).optional().describe('the column holding the labels (default: the name)'),
  loss: z.enum(LOSS_KINDS).describe('cross_entropy, bce_with_logits and bce classify; mse, l1 and smooth_l1 regress'),
  classes: names().min(2, { error: 'a list of at least 2 class names' }).optional()
    .describe('classification: the classes in index order (for bce: negative, positive); others are an error'),
  path: path().optional().describe('this task\'s own data file (a table with the same feature columns): its rows train only this task'),
  targets: path().optional().describe('.npy data: the file of this task\'s targets (rows,) — class indices or values'),
  comment: z.string({ error: 'a string' }).optional().describe('free text, ignored (multitask init writes its questions about guessed targets here)'),
});

const activation = () => z.enum(ACTIVATIONS);
const layerSchema = strict({
  units: positiveInt(),
  activation: activation().optional().describe('default: model.activation for the trunk, experts and towers, relu for a head'),
});

/** The mixture architectures' defaults (model.experts, ...). */
export const MIXTURE_DEFAULTS = { mmoeExperts: 4, pleExperts: 2, taskExperts: 1, levels: 2, expert: [32], tower: [16] } as const;

const layers = () => z.array(z.union([positiveInt(), layerSchema], { error: 'a positive integer' }), { error: 'a list of layer widths' });

const modelSchema = strict({
  // optional, not defaulted: a config without it resolves (and hashes) as before
  architecture: z.enum(ARCHITECTURES).optional()
    .describe('shared (default: one trunk, a head per task), mmoe (experts, a softmax gate and a tower per task) or ple (task and shared experts per level, CGC with levels 1)'),
  trunk: layers().default([64, 64])
    .describe('shared trunk layers: widths, or {units, activation} for a layer\'s own activation (default [64, 64]; unused by mmoe and ple)'),
  activation: activation().default('relu').describe('trunk (mmoe, ple: expert) activation (default relu)'),
  heads: byTask(strict({ hidden: layerSchema.optional() })).default({}).describe('per task: an optional hidden layer in its head (shared only)'),
  experts: positiveInt().optional().describe(`mmoe: the experts (default ${MIXTURE_DEFAULTS.mmoeExperts}); ple: the shared experts of each level (default ${MIXTURE_DEFAULTS.pleExperts})`),
  taskExperts: positiveInt().optional().describe(`ple: each task's own experts per level (default ${MIXTURE_DEFAULTS.taskExperts})`),
  levels: positiveInt().optional().describe(`ple: extraction levels, 1 = CGC (default ${MIXTURE_DEFAULTS.levels})`),
  expert: layers().min(1, { error: 'a list of at least one layer width' }).optional()
    .describe(`mmoe, ple: each expert's layers (default [${MIXTURE_DEFAULTS.expert.join(', ')}]); the last width is every gated mixture's`),
  tower: layers().optional().describe(`mmoe, ple: each task tower's hidden layers before its output layer (default [${MIXTURE_DEFAULTS.tower.join(', ')}])`),
});

/** A learning-rate schedule (see schedule.ts for the formulas and the cross-field rules). */
export const scheduleSchema = strict({
  kind: z.enum(LR_SCHEDULE_KINDS).describe('constant, step (×gamma every stepSize steps) or cosine (warm-up, then cosine decay to minLr)'),
  stepSize: positiveInt().optional().describe('step: steps between decays'),
  gamma: positiveNumber().optional().describe('step: factor (default 0.1)'),
  warmupSteps: nonNegativeInt().optional().describe('cosine: linear warm-up steps (default 0)'),
  minLr: nonNegativeNumber().optional().describe('cosine: final learning rate (default 0)'),
  totalSteps: positiveInt().optional().describe('cosine: horizon in steps (default: the run\'s epochs)'),
  totalEpochs: positiveInt().optional().describe('cosine: horizon in epochs (default: the run\'s epochs)'),
});

const runOnly = '(run directory only; Trainer ignores it)';

/** The fields (built on call: the strategy lists come from the registry). */
function configShape() {
  return {
    $schema: z.string().optional().describe('path or URL of this schema (for editors)'),
    name: z.string({ error: 'a run name' }).superRefine((value, ctx) => {
      const problem = runNameProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }).optional()
      .describe(`run name: the run goes to <runsDir>/<name>/ (default: time and strategy) ${runOnly}`),
    runsDir: path().default('runs').describe(`where run directories go (default runs) ${runOnly}`),
    data: dataSchema.default({}),
    tasks: z.array(taskSchema, { error: 'a list of tasks' }).min(1, { error: 'a list of at least one task' }).optional()
      .describe('the tasks (needed with a data file or arrays; the built-in and synthetic data bring their own)'),
    validation: fraction().default(0.2).describe('fraction of rows held out for validation (default 0.2)'),
    model: modelSchema.prefault({}),
    taskWeights: byTask(nonNegativeNumber()).default({}).describe('per-task loss weights (default 1)'),
    taskLr: byTask(positiveNumber()).default({}).describe('per-task learning rates (sequential)'),
    classWeights: byTask(classWeightSchema()).optional()
      .describe('per classification task: "balanced" (n / (classes · n_class) over the training split\'s labelled rows), one weight per class, or {class: weight}; cross_entropy as CrossEntropyLoss(weight), bce/bce_with_logits as BCEWithLogitsLoss(pos_weight) (one weight, the positive class\'s). Run directories store the resolved numbers'),
    strategy: z.enum(strategyChoices() as [string, ...string[]]).default('sum')
      .describe('sum (one step on Σ w·L), sequential (one step per task), or a gradient-combination / loss-weighting strategy'),
    strategyOptions: z.record(z.string(), z.union([z.number(), z.array(z.number()), z.string()], { error: 'a number, a list of numbers or a string' }), { error: 'an object of option: value' }).default({})
      .describe('options of the strategy (or of the weighting), e.g. {"c": 0.4} for cagrad'),
    weighting: z.enum(weightingNames() as [string, ...string[]]).optional().describe('with sequential: a loss weighting scaling each task\'s step'),
    sequentialMode: z.enum(SEQUENTIAL_MODES as [SequentialMode, ...SequentialMode[]]).default('fresh').describe('fresh (default) or stale'),
    plan: z.enum(PLAN_NAMES as [PlanName, ...PlanName[]]).default('auto').describe('auto (default), fused (sum only) or per-task'),
    optimizer: optimizerSchema.prefault({}),
    schedule: scheduleSchema.default({ kind: 'constant' }).describe('learning-rate schedule (default constant)'),
    taskSchedules: byTask(scheduleSchema).default({}).describe('sequential: per-task learning-rate schedules'),
    epochs: positiveInt().default(30).describe('epochs of a run; the default of Trainer.fit (default 30)'),
    batchSize: positiveInt().default(32).describe('rows per step (default 32)'),
    shards: positiveInt().optional().describe('jobs per gradient (default: one per 128 rows, at most 8)'),
    seed: nonNegativeInt().default(0).describe('initialisation, split, batches (default 0)'),
    workers: positiveInt().optional().describe('worker threads (default: available cores; results do not depend on it)'),
    computeOn: z.enum(COMPUTE_PLACES).default('auto')
      .describe('where gradient jobs run: the worker threads, the coordinator thread (small models: no round trip per step), or auto (default: whichever is faster here, timed over the first steps); results do not depend on it'),
    checkpointEvery: nonNegativeInt().default(500).describe(`checkpoint every n steps and at every epoch end; 0: epoch ends only (default 500) ${runOnly}`),
    keepCheckpoints: positiveInt().default(3).describe(`checkpoints kept (default 3) ${runOnly}`),
    clipGradNorm: positiveNumber().optional().describe('clip gradient norms to this (torch.nn.utils.clip_grad_norm_)'),
    clipPer: z.enum(['global', 'task']).optional().describe('clip each update (global, default) or each task\'s gradient (task)'),
    onNonFinite: z.enum(['stop', 'skip']).default('stop').describe('a NaN or infinity: stop the run (default) or skip the step'),
    maxSkips: nonNegativeInt().default(10).describe('with onNonFinite skip: steps skipped in a row before the run stops as with stop (default 10)'),
    jobTimeoutMs: positiveInt().default(120_000).describe('a job running longer is presumed hung: its worker is replaced and the job retried (default 120000)'),
    jobRetries: nonNegativeInt().default(2).describe('retries of a failed job before the run stops (default 2)'),
    earlyStopping: strict({
      on: z.string({ error: '<task>:<metric> or mean' }).min(1, { error: '<task>:<metric> or mean' })
        .describe('what to watch after every epoch: <task>:loss, <task>:accuracy (classification), <task>:rmse (regression), or mean (the mean relative change of every task\'s metric since epoch 1)'),
      patience: positiveInt().default(5).describe('epochs without an improvement before the run stops (default 5)'),
    }).optional().describe('stop when the validation metric stops improving'),
    keep: z.enum(['best', 'final']).optional()
      .describe('which weights weights.safetensors holds: the best epoch\'s or the last (default: best with earlyStopping, else final)'),
    cluster: clusterSchema.optional().describe('compute the gradient jobs on multitask worker processes over NATS (results do not depend on it)'),
    test: path().optional().describe('a held-out test table (CSV, JSON, JSON Lines; the features and label columns), evaluated once at the end with the saved weights and reported apart from validation'),
    initWeights: path().optional().describe('start from these weights (.safetensors)'),
    saveWeights: path().optional().describe(`also save the final weights here (.safetensors) ${runOnly}`),
    report: z.boolean({ error: 'true or false' }).default(true).describe(`write report.html at the end (default true) ${runOnly}`),
  };
}

/** Checks within one config, field by field (a config file, or the flags, on their own). */
function checkFields(c: { tasks?: { name?: string; column?: string; targets?: string }[]; schedule: unknown; taskSchedules: Record<string, unknown>;
  model: z.output<typeof modelSchema> }, ctx: z.RefinementCtx): void {
  const fail = (message: string) => ctx.addIssue({ code: 'custom', message, path: [] });
  // a config that names its architecture is checked against it on its own (the file is named in the message);
  // one that does not may get it from another (a file's model and the flags): checked once merged (checkStrategy)
  const problem = c.model.architecture === undefined ? undefined : architectureProblem(c.model);
  if (problem) fail(problem);
  c.tasks?.forEach((t, i) => {
    if (t.name === undefined && t.column === undefined && t.targets === undefined) fail(`tasks[${i}]: give a name or a column`);
    else if (t.name === undefined && t.column !== undefined && !TASK_NAME.test(t.column)) {
      fail(`tasks[${i}]: column ${JSON.stringify(t.column)} is not a valid task name; give the task a "name" (letters, digits and _)`);
    }
  });
  const schedules: [string, unknown][] = [['schedule', c.schedule],
    ...Object.entries(c.taskSchedules).map(([k, v]): [string, unknown] => [`taskSchedules.${formatPath([k])}`, v])];
  for (const [where, s] of schedules) {
    try {
      checkSchedule(s, where);
    } catch (e) {
      fail((e as Error).message);
    }
  }
}

/** The schema of one config as written (a file, the flags): every field checked, no cross-field rule. */
export function configSchema() {
  return strict(configShape()).superRefine(checkFields, ONLY_IF_VALID);
}

/** The rules of a complete config across fields (architecture, strategy), and its strategy options parsed by the registry. */
function checkStrategy(c: z.output<ReturnType<typeof configSchema>>, ctx: z.RefinementCtx): void {
  const fail = (message: string) => ctx.addIssue({ code: 'custom', message, path: [] });
  // the model's fields against its architecture: a file's model and the flags are merged before
  const problem = architectureProblem(c.model);
  if (problem) return fail(problem);
  const { strategy, weighting } = c;
  if (weighting !== undefined && strategy !== 'sequential') {
    return fail(`weighting: composes with strategy "sequential"; for a summed step use strategy ${JSON.stringify(weighting)} itself`);
  }
  const optionsOf = weighting ?? (BASE_STRATEGIES.includes(strategy as never) ? null : strategy);
  if (optionsOf === null && Object.keys(c.strategyOptions).length > 0) return fail(`strategyOptions: strategy ${JSON.stringify(strategy)} takes no options`);
  if (optionsOf !== null) {
    try {
      c.strategyOptions = parseStrategyOptions(optionsOf, c.strategyOptions) as typeof c.strategyOptions;
    } catch (e) {
      return fail((e as Error).message);
    }
  }
  if (c.plan === 'fused' && strategy !== 'sum') {
    return fail(`plan: "fused" computes the gradient of the summed loss, which only the "sum" strategy uses (strategy is ${JSON.stringify(strategy)})`);
  }
  if (strategy !== 'sequential' && Object.keys(c.taskSchedules).length > 0) {
    return fail(`taskSchedules: per-task schedules need the "sequential" strategy (one optimizer per task); strategy is ${JSON.stringify(strategy)}`);
  }
  if (strategy !== 'sequential' && Object.keys(c.taskLr).length > 0) {
    return fail('taskLr: per-task learning rates need the "sequential" strategy; with "sum" use task weights');
  }
  if (c.clipGradNorm !== undefined && c.clipPer === 'task' && strategy === 'sum' && c.plan === 'fused') {
    fail('clipPer: "task" needs each task\'s gradient: use plan "per-task" (the fused plan only computes their sum)');
  }
}

/** The schema of a complete config (what Trainer.create takes): configSchema plus the strategy rules. */
export function completeConfigSchema() {
  return configSchema().superRefine(checkStrategy, ONLY_IF_VALID);
}

/** What a user writes: a config file's content, and what `Trainer.create` takes. */
export type TrainerConfig = z.input<ReturnType<typeof configSchema>>;
export type ParsedConfig = z.output<ReturnType<typeof configSchema>>;
export type TaskEntry = NonNullable<TrainerConfig['tasks']>[number];
export type ScheduleEntry = z.output<typeof scheduleSchema>;
export type DataConfig = z.input<typeof dataSchema>;
export type LayerEntry = NonNullable<NonNullable<TrainerConfig['model']>['trunk']>[number];

/** A data source, resolved: its kind says which fields it uses. */
export type ResolvedData =
  | { kind: 'builtin'; builtin: 'penguins' }
  | { kind: 'synthetic'; synthetic: NonNullable<z.output<typeof fileDataSchema>['synthetic']> }
  | { kind: 'file'; path: string; format: DataFormat; features?: string[]; featureNames?: string[] }
  | z.output<typeof arraysDataSchema>;

/** Every default filled in (see resolveConfig). */
export type ResolvedConfig = Omit<ParsedConfig, 'data' | 'strategyOptions' | 'workers' | 'tasks' | '$schema'> & {
  data: ResolvedData;
  tasks?: ParsedConfig['tasks'];
  strategyOptions: StrategyOptions;
  /** worker threads: the config's, else the available cores (never stored: results do not depend on it) */
  workers: number;
};

/** The data format of a file: data.format, else from the file's extension. */
export function formatOf(data: { path?: string; format?: DataFormat }): DataFormat | undefined {
  if (data.path === undefined) return undefined;
  if (data.format) return data.format;
  const ext = extname(data.path).toLowerCase();
  return ext === '.npy' ? 'npy' : ext === '.json' ? 'json' : ext === '.jsonl' || ext === '.ndjson' ? 'jsonl' : 'csv';
}

/**
 * Checks one config as written (a config file, or the flags) with the schema;
 * UserError `<source>: <path>: <value> is not <expected>` for the first problem.
 * Returns the value as given (defaults are filled in by resolveConfig).
 */
export function validateConfig(value: unknown, source: string): TrainerConfig {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new UserError(`${source}: ${JSON.stringify(value) ?? String(value)} is not a config (a JSON object)`);
  }
  const result = configSchema().safeParse(value, { error: (issue) => defaultExpected(issue) });
  if (!result.success) throw configError(result.error, value, source);
  return value as TrainerConfig;
}

/** The data source with its kind (and a file's format) filled in; checks it against the tasks. */
function resolveData(c: ParsedConfig): ResolvedData {
  const data = c.data;
  const fail = (message: string): never => {
    throw new UserError(message);
  };
  if (data.kind === 'arrays') {
    if ((data.columns === undefined) === (data.matrix === undefined)) fail('data: arrays data needs one of columns or matrix');
    if (!c.tasks) fail('tasks: arrays data needs the tasks (their names or columns, and losses)');
    if (data.matrix !== undefined && data.features !== undefined) fail('data.features: a matrix has no columns to choose; name its columns with data.featureNames');
    if (data.columns !== undefined && data.featureNames !== undefined) fail('data.featureNames: only for a matrix (columns have their names)');
    return data;
  }
  const sources = [data.path !== undefined, data.builtin !== undefined, data.synthetic !== undefined].filter(Boolean).length;
  if (sources > 1) fail('data: give one of path (--data), builtin or synthetic');
  const kind = data.path !== undefined ? 'file' : data.synthetic !== undefined ? 'synthetic' : 'builtin';
  if (data.kind !== undefined && data.kind !== kind) fail(`data.kind: ${JSON.stringify(data.kind)} does not fit the fields given (they make it ${JSON.stringify(kind)})`);
  if (kind !== 'file') {
    if (c.tasks !== undefined) {
      fail(kind === 'synthetic'
        ? 'tasks (--task): the synthetic data brings its own tasks (set data.synthetic.tasks, names and kinds instead)'
        : '--task / tasks: needs a data file (--data or data.path); the built-in data set has its own tasks');
    }
    if (data.features !== undefined) fail('data.features (--features): only with a data file; the built-in data set has its own features');
    return kind === 'synthetic' ? { kind, synthetic: data.synthetic! } : { kind, builtin: 'penguins' };
  }
  const file = resolve(data.path!);
  if (c.tasks === undefined) {
    fail(`--data ${data.path}: say which columns to predict with --task column:loss (e.g. --task species:cross_entropy) or "tasks" in the config`);
  }
  const format = formatOf(data)!;
  if (format === 'npy') {
    if (data.features !== undefined) fail('data.features: .npy data has no columns to choose; name the matrix\'s columns with data.featureNames');
    c.tasks!.forEach((t, i) => {
      if (t.path !== undefined) fail(`tasks[${i}].path: .npy data takes each task's targets from "targets", not "path"`);
      if (t.targets === undefined) fail(`tasks[${i}]: .npy data needs the task's target file in "targets" (or --task name=targets.npy:loss)`);
      if (t.name === undefined) fail(`tasks[${i}]: .npy data needs a task name`);
    });
  } else {
    if (data.featureNames !== undefined) fail('data.featureNames: only for .npy data (tables name their columns)');
    c.tasks!.forEach((t, i) => {
      if (t.targets !== undefined) fail(`tasks[${i}].targets: only for .npy data; a table's task names its "column"`);
    });
  }
  return { kind, path: file, format, features: data.features, featureNames: data.featureNames };
}

/** A schedule with its derived default: a cosine horizon is the run's epochs unless given. */
function withHorizon<S extends LrSchedule>(s: S, epochs: number): S {
  return s.kind === 'cosine' && s.totalSteps === undefined && s.totalEpochs === undefined ? { ...s, totalEpochs: epochs } : s;
}

const absolute = (p: string | undefined) => (p === undefined || isAbsolute(p) ? p : resolve(p));

/**
 * Parses a complete config with the schema (defaults filled in), then the derived
 * defaults in one step: data kind and format, absolute paths, the cosine horizon,
 * clipPer only with clipGradNorm, workers. UserError `<source>: ...` otherwise.
 */
export function resolveConfig(value: unknown, source = 'Trainer.create'): ResolvedConfig {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new UserError(`${source}: ${JSON.stringify(value) ?? String(value)} is not a config (an object)`);
  }
  const result = completeConfigSchema().safeParse(value, { error: (issue) => defaultExpected(issue) });
  if (!result.success) throw configError(result.error, value, source);
  const c = result.data;
  // --task name=targets.npy:loss gives an .npy task's target file as its "column"
  if (c.tasks && formatOf(c.data.kind === 'arrays' ? {} : c.data) === 'npy') {
    c.tasks = c.tasks.map((t) => (t.targets === undefined && t.column !== undefined ? dropUndefined({ ...t, targets: t.column, column: undefined }) : t));
  }
  let data: ResolvedData;
  try {
    data = resolveData(c);
  } catch (e) {
    throw new UserError(`${source}: ${(e as Error).message}`);
  }
  const { $schema: _schema, workers, ...rest } = c;
  if (c.computeOn === 'coordinator' && c.cluster) {
    throw new UserError(`${source}: computeOn: "coordinator" computes on this process only; with cluster use "workers" or "auto"`);
  }
  return {
    ...rest,
    data,
    tasks: c.tasks?.map((t) => ({ ...t, path: absolute(t.path), targets: absolute(t.targets) })).map(dropUndefined),
    runsDir: resolve(c.runsDir),
    initWeights: absolute(c.initWeights),
    test: absolute(c.test),
    saveWeights: absolute(c.saveWeights),
    schedule: withHorizon(c.schedule, c.epochs),
    taskSchedules: Object.fromEntries(Object.entries(c.taskSchedules).map(([k, s]) => [k, withHorizon(s, c.epochs)])),
    clipPer: c.clipGradNorm === undefined ? undefined : (c.clipPer ?? 'global'),
    keep: c.keep ?? (c.earlyStopping ? 'best' : 'final'),
    strategyOptions: c.strategyOptions as StrategyOptions,
    workers: workers ?? availableParallelism(),
  };
}

/** A copy without undefined-valued keys (at every depth), so it validates and prints cleanly. */
export function dropUndefined<T>(value: T): T {
  if (Array.isArray(value)) return value.map(dropUndefined) as T;
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = dropUndefined(v);
  return out as T;
}

/** Every default, as the schema fills it in for an empty config (for help texts). */
export function configDefaults(): ParsedConfig {
  return configSchema().parse({});
}

/**
 * What a run directory's config.json holds: the resolved config without the
 * worker count (results do not depend on it) — passable to Trainer.create as it is.
 */
export function storedConfig(c: ResolvedConfig): TrainerConfig {
  // where a run computes is not stored (results do not depend on it; a cluster URL may hold a token)
  const { workers: _workers, cluster: _cluster, computeOn: _computeOn, ...rest } = c;
  return JSON.parse(JSON.stringify(rest)) as TrainerConfig;
}

/** The trunk as layers: widths take model.activation. */
export function trunkLayers(model: ResolvedConfig['model']): { units: number; activation: (typeof ACTIVATIONS)[number] }[] {
  return model.trunk.map((l) => (typeof l === 'number' ? { units: l, activation: model.activation } : { units: l.units, activation: l.activation ?? model.activation }));
}

/** Why the model fields do not fit model.architecture, or undefined. */
function architectureProblem(m: z.output<typeof modelSchema>): string | undefined {
  const architecture = m.architecture ?? 'shared';
  const only = (field: keyof typeof m, allowed: readonly string[]) => (m[field] !== undefined && !allowed.includes(architecture)
    ? `model.${field}: only for architecture ${allowed.join(' or ')} (model.architecture is ${JSON.stringify(architecture)})` : undefined);
  const heads = Object.entries(m.heads).find(([, h]) => h.hidden !== undefined);
  if (architecture !== 'shared' && heads) {
    return `model.heads.${heads[0]}.hidden: a ${architecture} model gives each task a tower (model.tower), not a head hidden layer`;
  }
  return only('experts', ['mmoe', 'ple']) ?? only('expert', ['mmoe', 'ple']) ?? only('tower', ['mmoe', 'ple'])
    ?? only('taskExperts', ['ple']) ?? only('levels', ['ple']);
}

/** The mixture of an mmoe or ple model, defaults filled in; undefined for the shared architecture. */
export function mixtureOf(model: ResolvedConfig['model']): MixtureSpec | undefined {
  const architecture = model.architecture ?? 'shared';
  if (architecture === 'shared') return undefined;
  const asLayers = (ls: readonly (number | { units: number; activation?: (typeof ACTIVATIONS)[number] })[]) =>
    ls.map((l) => (typeof l === 'number' ? { units: l, activation: model.activation } : { units: l.units, activation: l.activation ?? model.activation }));
  const ple = architecture === 'ple';
  return {
    architecture,
    experts: model.experts ?? (ple ? MIXTURE_DEFAULTS.pleExperts : MIXTURE_DEFAULTS.mmoeExperts),
    taskExperts: ple ? model.taskExperts ?? MIXTURE_DEFAULTS.taskExperts : 0,
    levels: ple ? model.levels ?? MIXTURE_DEFAULTS.levels : 1,
    expert: asLayers(model.expert ?? MIXTURE_DEFAULTS.expert),
    tower: asLayers(model.tower ?? MIXTURE_DEFAULTS.tower),
  };
}

/** The default shard count depends on the batch only, never on the worker count, so results do not either. */
export function shardCount(shards: number | undefined, batchSize: number): number {
  const n = shards === undefined ? Math.min(8, Math.max(1, Math.floor(batchSize / 128))) : shards;
  return Math.min(n, batchSize);
}
