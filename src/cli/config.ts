/**
 * The run config file (`multitask train --config run.json`): its schema (zod,
 * strict objects: an unknown key is an error), one-line error messages naming
 * the path, the value and what was expected, the JSON Schema for editors, and
 * the defaults every run fills in.
 *
 * Every command-line flag of `train` sets one field here; a flag given on the
 * command line overrides the file (see flags.ts). Relative paths in a file are
 * relative to the file's directory.
 */
import { readFileSync } from 'node:fs';
import { dirname, extname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { ACTIVATIONS, LOSS_KINDS } from '../kernels/types.js';
import { OPTIMIZER_NAMES } from '../optim/index.js';
import { getStrategy, strategyNames } from '../strategies/index.js';
import { PLAN_NAMES, SEQUENTIAL_MODES, strategyChoices } from '../trainer/config.js';
import { checkSchedule, LR_SCHEDULE_KINDS } from '../trainer/schedule.js';
import { UserError } from '../util/errors.js';

// ---------------------------------------------------------------------------
// Schema pieces

const TASK_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RUN_NAME = /^[\w.=-]+$/;

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

export const DATA_FORMATS = ['csv', 'json', 'jsonl', 'npy'] as const;
export type DataFormat = (typeof DATA_FORMATS)[number];

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

const dataSchema = strict({
  path: path().optional().describe('data file: .csv, .json (array of records), .jsonl, or .npy (feature matrix); default: the built-in penguins'),
  format: z.enum(DATA_FORMATS).optional().describe('file format (default: from the extension; anything unknown reads as CSV)'),
  features: names().optional().describe('feature columns (default: every column that is not a target); "name:category" forces one-hot'),
  featureNames: names().optional().describe('.npy data: names of the feature matrix\'s columns (default x0, x1, ...)'),
  builtin: z.enum(['penguins']).optional().describe('a built-in data set'),
  synthetic: syntheticSchema.optional().describe('generated data with controllable task relatedness (Ma et al. 2018)'),
});

const taskSchema = strict({
  name: z.string({ error: 'a task name' }).regex(TASK_NAME, { error: 'a task name (letters, digits and _, not starting with a digit)' }).optional()
    .describe('task name (default: the column)'),
  column: z.string({ error: 'a column name' }).min(1, { error: 'a column name' }).optional().describe('the column holding the labels (default: the name)'),
  loss: z.enum(LOSS_KINDS).describe('cross_entropy, bce_with_logits and bce classify; mse, l1 and smooth_l1 regress'),
  classes: names().min(2, { error: 'a list of at least 2 class names' }).optional()
    .describe('classification: the classes in index order (for bce: negative, positive); others are an error'),
  path: path().optional().describe('this task\'s own data file (a table with the same feature columns): its rows train only this task'),
  targets: path().optional().describe('.npy data: the file of this task\'s targets (rows,) — class indices or values'),
});

const layerSchema = strict({
  units: positiveInt(),
  activation: z.enum(ACTIVATIONS).optional().describe('default relu'),
});

const modelSchema = strict({
  trunk: z.array(positiveInt(), { error: 'a list of layer widths' }).optional().describe('shared trunk layer widths (default [64, 64])'),
  activation: z.enum(ACTIVATIONS).optional().describe('trunk activation (default relu)'),
  heads: byTask(strict({ hidden: layerSchema.optional() })).optional().describe('per task: an optional hidden layer in its head'),
});

const optimizerSchema = strict({
  name: z.enum(OPTIMIZER_NAMES).optional().describe('default adam'),
  lr: positiveNumber().optional().describe('learning rate (default 0.01)'),
  momentum: nonNegativeNumber().optional().describe('sgd'),
  dampening: z.number({ error: 'a number in [0, 1]' }).min(0, { error: 'a number in [0, 1]' }).max(1, { error: 'a number in [0, 1]' }).optional().describe('sgd'),
  nesterov: z.boolean({ error: 'true or false' }).optional().describe('sgd'),
  weightDecay: nonNegativeNumber().optional().describe('adam, sgd: L2 term; adamw: decoupled (default 0.01)'),
  betas: z.tuple([fraction(), fraction()], { error: 'two numbers [beta1, beta2] in [0, 1)' }).optional().describe('adam, adamw (default [0.9, 0.999])'),
  eps: positiveNumber().optional().describe('adam, adamw (default 1e-8)'),
});

const scheduleSchema = strict({
  kind: z.enum(LR_SCHEDULE_KINDS).describe('constant, step (×gamma every stepSize steps) or cosine (warm-up, then cosine decay to minLr)'),
  stepSize: positiveInt().optional().describe('step: steps between decays'),
  gamma: positiveNumber().optional().describe('step: factor (default 0.1)'),
  warmupSteps: nonNegativeInt().optional().describe('cosine: linear warm-up steps (default 0)'),
  minLr: nonNegativeNumber().optional().describe('cosine: final learning rate (default 0)'),
  totalSteps: positiveInt().optional().describe('cosine: horizon in steps (default: the run\'s epochs)'),
  totalEpochs: positiveInt().optional().describe('cosine: horizon in epochs (default: the run\'s epochs)'),
});

/** The config file's schema (built on call: the strategy lists come from the registry). */
export function configSchema() {
  return strict({
    $schema: z.string().optional().describe('path or URL of this schema (for editors)'),
    name: z.string({ error: 'a run name' }).regex(RUN_NAME, { error: 'a run name (letters, digits, ".", "=", "-" and "_")' }).optional()
      .describe('run name: the run goes to <runsDir>/<name>/ (default: time and strategy)'),
    runsDir: path().optional().describe('where run directories go (default runs)'),
    data: dataSchema.optional(),
    tasks: z.array(taskSchema, { error: 'a list of tasks' }).min(1, { error: 'a list of at least one task' }).optional()
      .describe('the tasks (needed with a data file; the built-in and synthetic data bring their own)'),
    validation: fraction().optional().describe('fraction of rows held out for validation (default 0.2)'),
    model: modelSchema.optional(),
    taskWeights: byTask(nonNegativeNumber()).optional().describe('per-task loss weights (default 1)'),
    taskLr: byTask(positiveNumber()).optional().describe('per-task learning rates (sequential)'),
    strategy: z.enum(strategyChoices() as [string, ...string[]]).optional()
      .describe('sum (one step on Σ w·L), sequential (one step per task), or a gradient-combination / loss-weighting strategy'),
    strategyOptions: z.record(z.string(), z.union([z.number(), z.array(z.number()), z.string()], { error: 'a number, a list of numbers or a string' }), { error: 'an object of option: value' }).optional()
      .describe('options of the strategy (or of the weighting), e.g. {"c": 0.4} for cagrad'),
    weighting: z.enum(weightingNames() as [string, ...string[]]).optional().describe('with sequential: a loss weighting scaling each task\'s step'),
    sequentialMode: z.enum(SEQUENTIAL_MODES as [string, ...string[]]).optional().describe('fresh (default) or stale'),
    plan: z.enum(PLAN_NAMES as [string, ...string[]]).optional().describe('auto (default), fused (sum only) or per-task'),
    optimizer: optimizerSchema.optional(),
    schedule: scheduleSchema.optional().describe('learning-rate schedule (default constant)'),
    taskSchedules: byTask(scheduleSchema).optional().describe('sequential: per-task learning-rate schedules'),
    epochs: positiveInt().optional().describe('default 30'),
    batchSize: positiveInt().optional().describe('rows per step (default 32)'),
    shards: positiveInt().optional().describe('jobs per gradient (default: one per 128 rows, at most 8)'),
    seed: nonNegativeInt().optional().describe('initialisation, split, batches (default 0)'),
    workers: positiveInt().optional().describe('worker threads (default: available cores)'),
    checkpointEvery: nonNegativeInt().optional().describe('checkpoint every n steps and at every epoch end; 0: epoch ends only (default 500)'),
    keepCheckpoints: positiveInt().optional().describe('checkpoints kept (default 3)'),
    clipGradNorm: positiveNumber().optional().describe('clip gradient norms to this (torch.nn.utils.clip_grad_norm_)'),
    clipPer: z.enum(['global', 'task']).optional().describe('clip each update (global, default) or each task\'s gradient (task)'),
    onNonFinite: z.enum(['stop', 'skip']).optional().describe('a NaN or infinity: stop the run (default) or skip the step'),
    jobTimeoutMs: positiveInt().optional().describe('a job running longer is presumed hung: its worker is replaced and the job retried (default 120000)'),
    jobRetries: nonNegativeInt().optional().describe('retries of a failed job before the run stops (default 2)'),
    initWeights: path().optional().describe('start from these weights (.safetensors)'),
    saveWeights: path().optional().describe('also save the final weights here (.safetensors)'),
    report: z.boolean({ error: 'true or false' }).optional().describe('write report.html at the end (default true)'),
  });
}

export type CliConfig = z.infer<ReturnType<typeof configSchema>>;
export type TaskEntry = NonNullable<CliConfig['tasks']>[number];
export type ScheduleEntry = NonNullable<CliConfig['schedule']>;

/** The JSON Schema of the config file (draft 2020-12). */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema(), { io: 'input' }) as Record<string, unknown>;
  return { ...schema, title: 'multitask run config', description: 'multitask train --config <file>: every field is optional; flags given on the command line override it' };
}

// ---------------------------------------------------------------------------
// Messages

function showValue(v: unknown): string {
  if (v === undefined) return 'missing';
  let text: string;
  try {
    text = JSON.stringify(v) ?? String(v);
  } catch {
    text = String(v);
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** `tasks[1].loss`, `taskLr.species`, `heads["my task"]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(String(key))) out += out ? `.${String(key)}` : String(key);
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v = root;
  for (const key of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0];
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j];
      d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return d[b.length];
}

/** ` (did you mean "lr"?)` for a near miss among `known`. */
export function suggestion(given: string, known: readonly string[]): string {
  const g = given.toLowerCase().replace(/[-_]/g, '');
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = editDistance(g, k.toLowerCase().replace(/[-_]/g, ''));
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best !== undefined && bestD <= Math.max(1, Math.floor(given.length / 4)) ? ` (did you mean "${best}"?)` : '';
}

/** What a default (non-customised) issue expected, as a phrase. */
function defaultExpected(issue: z.core.$ZodRawIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return ({ number: 'a number', int: 'an integer', string: 'a string', boolean: 'true or false', array: 'a list', object: 'an object', record: 'an object', tuple: 'a list' } as Record<string, string>)[issue.expected] ?? `of type ${issue.expected}`;
    case 'invalid_value':
      return `one of ${issue.values.map((v) => String(v)).join(', ')}`;
    case 'too_small':
      return issue.origin === 'array' ? `a list of at least ${issue.minimum}` : issue.origin === 'string' ? 'a non-empty string' : `${issue.inclusive ? '≥' : '>'} ${issue.minimum}`;
    case 'too_big':
      return issue.origin === 'array' ? `a list of at most ${issue.maximum}` : `${issue.inclusive ? '≤' : '<'} ${issue.maximum}`;
    case 'invalid_union':
      return 'a valid value';
    default:
      return 'valid';
  }
}

/** One line for a zod issue: `tasks[1].loss: "crossentropy" is not one of cross_entropy, ...`. */
function issueLine(issue: z.core.$ZodIssue, root: unknown): string {
  const where = formatPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    const known = issue.message.replace(/^known keys: /, '').split(', ');
    const key = issue.keys[0];
    const more = issue.keys.length > 1 ? ` (and ${issue.keys.slice(1).map((k) => JSON.stringify(k)).join(', ')})` : '';
    return `${where ? `${where}: ` : ''}unknown key ${JSON.stringify(key)}${suggestion(key, known)}${more}; known keys: ${known.join(', ')}`;
  }
  if (issue.code === 'custom') return issue.message;
  const value = valueAt(root, issue.path);
  if (value === undefined) return `${where}: missing; expected ${issue.message}`;
  const hint = issue.code === 'invalid_value' && typeof value === 'string' ? suggestion(value, issue.values.map(String)) : '';
  return `${where}: ${showValue(value)} is not ${issue.message}${hint}`;
}

/**
 * Validates a parsed config; throws a UserError `<source>: <path>: <value> is not <expected>`
 * for the first problem (and how many more there are).
 */
export function validateConfig(value: unknown, source: string): CliConfig {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new UserError(`${source}: ${showValue(value)} is not a config (a JSON object)`);
  }
  const result = configSchema().safeParse(value, { error: (issue) => defaultExpected(issue) });
  if (!result.success) {
    const issues = result.error.issues;
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? 's' : ''})` : '';
    throw new UserError(`${source}: ${issueLine(issues[0], value)}${more}`);
  }
  const config = result.data as CliConfig;
  checkConsistency(config, source);
  return config;
}

/** Checks within one config that do not depend on another source (flags). */
function checkConsistency(c: CliConfig, source: string): void {
  const fail = (message: string): never => {
    throw new UserError(`${source}: ${message}`);
  };
  c.tasks?.forEach((t, i) => {
    if (t.name === undefined && t.column === undefined && t.targets === undefined) fail(`tasks[${i}]: give a name or a column`);
    if (t.name === undefined && t.column !== undefined && !TASK_NAME.test(t.column)) {
      fail(`tasks[${i}]: column ${JSON.stringify(t.column)} is not a valid task name; give the task a "name" (letters, digits and _)`);
    }
  });
  const schedules: [string, ScheduleEntry | undefined][] = [['schedule', c.schedule],
    ...Object.entries(c.taskSchedules ?? {}).map(([k, v]): [string, ScheduleEntry] => [`taskSchedules.${formatPath([k])}`, v])];
  for (const [where, s] of schedules) {
    if (s === undefined) continue;
    try {
      checkSchedule(s, where);
    } catch (e) {
      fail((e as Error).message);
    }
  }
}

/**
 * Reads and validates a config file; relative paths in it become absolute
 * (relative to the file's directory).
 */
export function readConfigFile(file: string): CliConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(`--config ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a directory, not a file' : (e as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (e) {
    const message = (e as Error).message;
    const at = /position (\d+)/.exec(message);
    let where = '';
    if (at) {
      const before = text.slice(0, Number(at[1]));
      const line = before.split('\n').length;
      where = ` at line ${line}, column ${Number(at[1]) - before.lastIndexOf('\n')}`;
    }
    throw new UserError(`${file}: not valid JSON${where} (${message})`);
  }
  return resolvePaths(validateConfig(value, file), dirname(resolve(file)));
}

/** Makes every path in the config absolute, relative to `base`. */
export function resolvePaths(c: CliConfig, base: string): CliConfig {
  const abs = (p: string | undefined) => (p === undefined || isAbsolute(p) ? p : resolve(base, p));
  const out: CliConfig = { ...c };
  if (c.data) out.data = { ...c.data, path: abs(c.data.path) };
  if (c.tasks) out.tasks = c.tasks.map((t) => ({ ...t, path: abs(t.path), targets: abs(t.targets) }));
  if (c.runsDir !== undefined) out.runsDir = abs(c.runsDir);
  if (c.initWeights !== undefined) out.initWeights = abs(c.initWeights);
  if (c.saveWeights !== undefined) out.saveWeights = abs(c.saveWeights);
  return dropUndefined(out);
}

/** A copy without undefined-valued keys (at every depth), so it validates and prints cleanly. */
export function dropUndefined<T>(value: T): T {
  if (Array.isArray(value)) return value.map(dropUndefined) as T;
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = dropUndefined(v);
  return out as T;
}

// ---------------------------------------------------------------------------
// Merging and defaults

const MERGED_OBJECTS = ['data', 'model', 'optimizer', 'schedule'] as const;

/**
 * `over` (flags) on top of `base` (the file): top-level fields replace, the
 * groups data/model/optimizer/schedule merge field by field, except that a new
 * optimizer name or schedule kind drops the fields of the old one.
 */
export function mergeConfigs(base: CliConfig, over: CliConfig): CliConfig {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue;
    if ((MERGED_OBJECTS as readonly string[]).includes(key) && base[key as keyof CliConfig] !== undefined) {
      let from = base[key as keyof CliConfig] as Record<string, unknown>;
      const v = value as Record<string, unknown>;
      if (key === 'optimizer' && v.name !== undefined && v.name !== from.name) from = from.lr === undefined ? {} : { lr: from.lr };
      if (key === 'schedule' && v.kind !== undefined && v.kind !== from.kind) from = {};
      if (key === 'data' && (v.path !== undefined || v.builtin !== undefined || v.synthetic !== undefined)) {
        from = { features: from.features, featureNames: from.featureNames };
      }
      out[key] = { ...from, ...v };
    } else out[key] = value;
  }
  return dropUndefined(out as CliConfig);
}

export const DEFAULTS = {
  runsDir: 'runs',
  validation: 0.2,
  trunk: [64, 64],
  activation: 'relu',
  strategy: 'sum',
  sequentialMode: 'fresh',
  plan: 'auto',
  optimizer: 'adam',
  lr: 0.01,
  epochs: 30,
  batchSize: 32,
  seed: 0,
  checkpointEvery: 500,
  keepCheckpoints: 3,
  clipPer: 'global',
  onNonFinite: 'stop',
  report: true,
} as const;

/** The data format of a config: data.format, else from the file's extension. */
export function dataFormat(c: CliConfig): DataFormat | undefined {
  if (!c.data?.path) return undefined;
  if (c.data.format) return c.data.format;
  const ext = extname(c.data.path).toLowerCase();
  return ext === '.npy' ? 'npy' : ext === '.json' ? 'json' : ext === '.jsonl' || ext === '.ndjson' ? 'jsonl' : 'csv';
}

/**
 * Fills every default in, so the run's config.json shows every setting. Data
 * consistency (tasks with a file, npy targets, ...) is checked here, with
 * messages naming both the config field and the flag.
 */
export function completeConfig(c: CliConfig): CliConfig {
  const data = c.data ?? {};
  const sources = [data.path !== undefined, data.builtin !== undefined, data.synthetic !== undefined].filter(Boolean).length;
  if (sources > 1) throw new UserError('data: give one of path (--data), builtin or synthetic');
  const format = dataFormat(c);
  const tasks = c.tasks;
  if (data.path === undefined && tasks !== undefined) {
    throw new UserError(data.synthetic
      ? 'tasks (--task): the synthetic data brings its own tasks (set data.synthetic.tasks, names and kinds instead)'
      : '--task / tasks: needs a data file (--data or data.path); the built-in data set has its own tasks');
  }
  if (data.path !== undefined && (tasks === undefined || tasks.length === 0)) {
    throw new UserError(`--data ${data.path}: say which columns to predict with --task column:loss (e.g. --task species:cross_entropy) or "tasks" in the config`);
  }
  let completeTasks = tasks;
  if (format === 'npy') {
    if (data.features !== undefined) throw new UserError('data.features: .npy data has no columns to choose; name the matrix\'s columns with data.featureNames');
    // --task name=targets.npy:loss gives the target file as the "column"
    completeTasks = tasks!.map((t) => (t.targets === undefined && t.column !== undefined
      ? dropUndefined({ ...t, targets: resolve(t.column), column: undefined }) : t));
    completeTasks.forEach((t, i) => {
      if (t.path !== undefined) throw new UserError(`tasks[${i}].path: .npy data takes each task's targets from "targets", not "path"`);
      if (t.targets === undefined) throw new UserError(`tasks[${i}]: .npy data needs the task's target file in "targets" (or --task name=targets.npy:loss)`);
      if (t.name === undefined) throw new UserError(`tasks[${i}]: .npy data needs a task name`);
    });
  } else {
    if (data.featureNames !== undefined) throw new UserError('data.featureNames: only for .npy data (tables name their columns)');
    tasks?.forEach((t, i) => {
      if (t.targets !== undefined) throw new UserError(`tasks[${i}].targets: only for .npy data; a table's task names its "column"`);
    });
  }
  const optimizer = { name: c.optimizer?.name ?? DEFAULTS.optimizer, lr: c.optimizer?.lr ?? DEFAULTS.lr, ...c.optimizer };
  return dropUndefined({
    ...c,
    runsDir: c.runsDir ?? DEFAULTS.runsDir,
    data: data.path === undefined && data.synthetic === undefined ? { builtin: 'penguins' } : { ...data, format },
    tasks: completeTasks,
    validation: c.validation ?? DEFAULTS.validation,
    model: { trunk: c.model?.trunk ?? [...DEFAULTS.trunk], activation: c.model?.activation ?? DEFAULTS.activation, heads: c.model?.heads },
    strategy: c.strategy ?? DEFAULTS.strategy,
    sequentialMode: c.sequentialMode ?? DEFAULTS.sequentialMode,
    plan: c.plan ?? DEFAULTS.plan,
    optimizer,
    schedule: c.schedule ?? { kind: 'constant' },
    epochs: c.epochs ?? DEFAULTS.epochs,
    batchSize: c.batchSize ?? DEFAULTS.batchSize,
    seed: c.seed ?? DEFAULTS.seed,
    checkpointEvery: c.checkpointEvery ?? DEFAULTS.checkpointEvery,
    keepCheckpoints: c.keepCheckpoints ?? DEFAULTS.keepCheckpoints,
    clipPer: c.clipGradNorm === undefined ? c.clipPer : (c.clipPer ?? DEFAULTS.clipPer),
    onNonFinite: c.onNonFinite ?? DEFAULTS.onNonFinite,
    report: c.report ?? DEFAULTS.report,
  } as CliConfig);
}
