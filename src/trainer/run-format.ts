/**
 * The run directory: what `multitask train` writes to `runs/<name>/` and what
 * `multitask report` reads. Types, file names, a line encoder for the writer,
 * and validating readers that treat every file as untrusted.
 *
 * runs/<name>/
 *   config.json      the resolved config (any JSON)
 *   summary.json     RunSummary, written at the end of the run
 *   metrics.jsonl    one MetricsRecord per line: a StepRecord after every step,
 *                    an EvalRecord per split after every evaluation
 *   report.html      written by `multitask report` (and at the end of `train`)
 *
 * Numbers that are not finite (a diverged loss) are written as null (JSON has
 * no NaN) and read back as NaN. Task names never contain "|": a cosine key is
 * "a|b" with a before b in task order.
 */
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../util/errors.js';

export const RUN_FILES = {
  config: 'config.json',
  summary: 'summary.json',
  metrics: 'metrics.jsonl',
  report: 'report.html',
} as const;

export type MetricName = 'accuracy' | 'rmse';
export const METRIC_NAMES: readonly MetricName[] = ['accuracy', 'rmse'];

/** The parts of a step's wall time, in milliseconds, in drawing order. */
export const TIMING_PARTS = ['compute', 'broadcast', 'transport', 'reduce', 'combine', 'optimizer', 'idle'] as const;
export type TimingPart = (typeof TIMING_PARTS)[number];
/** Every part (a missing one reads as absent) and `total`, the step's wall time. */
export type StepTiming = Partial<Record<TimingPart | 'total', number>>;

/** Written after every optimizer step (a `sequential` round counts as one step). */
export interface StepRecord {
  type: 'step';
  /** the step's global index, 0-based (the number of steps done before it) */
  step: number;
  /** 0-based epoch the step belongs to */
  epoch: number;
  /** each task's mean training loss on this step's batch */
  losses: Record<string, number>;
  /** the strategy's weight per task (strategies that weight tasks) */
  weights?: Record<string, number>;
  /** cosine similarity of two tasks' gradients, keyed "a|b" */
  cosines?: Record<string, number>;
  /** each task's gradient L2 norm */
  norms?: Record<string, number>;
  /** number of task pairs whose gradients conflict (negative cosine) */
  conflicts?: number;
  timing?: StepTiming;
}

export interface TaskEvaluation {
  loss: number;
  /** accuracy (0..1) for classification, RMSE in the target's units for regression */
  metric: number;
  metricName: MetricName;
}

/** Written after every evaluation, one record per split. */
export interface EvalRecord {
  type: 'eval';
  epoch: number;
  /** steps done when the evaluation ran */
  step: number;
  split: 'train' | 'validation';
  tasks: Record<string, TaskEvaluation>;
  /** mmoe, ple (validation record): each gate's mean expert weights, gate name → expert name → weight (EpochReport.gates) */
  gates?: Record<string, Record<string, number>>;
}

export type MetricsRecord = StepRecord | EvalRecord;

export interface TaskSummary {
  name: string;
  metricName: MetricName;
  /** best validation metric over the run (max accuracy / min RMSE); null without validation */
  bestValidation: number | null;
  finalValidation: number | null;
}

export interface RunSummary {
  name: string;
  strategy: string;
  tasks: TaskSummary[];
  steps: number;
  seconds: number;
  stepsPerSecond: number;
  /** anything else the trainer adds (epochs, workers, kernels, ...); scalars are shown in the report */
  [extra: string]: unknown;
}

/** A whole run in memory. */
export interface RunData {
  dir?: string;
  config?: unknown;
  summary?: RunSummary;
  records: MetricsRecord[];
  warnings: string[];
}

/** One metrics.jsonl line (without the newline) for a record; non-finite numbers become null. */
export function metricsLine(record: MetricsRecord): string {
  return JSON.stringify(record);
}

// ---------------------------------------------------------------------------
// Validation

class FormatError extends Error {}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function fail(path: string, value: unknown, expected: string): never {
  let text: string;
  try { text = JSON.stringify(value) ?? String(value); } catch { text = String(value); }
  if (text.length > 60) text = `${text.slice(0, 57)}...`;
  throw new FormatError(`${path} is ${text}, expected ${expected}`);
}

/** A number, or null standing for a non-finite value. */
function num(v: unknown, path: string): number {
  if (v === null) return NaN;
  if (typeof v !== 'number') fail(path, v, 'a number');
  return v as number;
}

function count(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) fail(path, v, 'a non-negative integer');
  return v as number;
}

/** {key: number} into a null-prototype object, so keys like "__proto__" stay data. */
function numberMap(v: unknown, path: string): Record<string, number> {
  if (!isObject(v)) fail(path, v, 'an object of numbers');
  const out: Record<string, number> = Object.create(null);
  for (const key of Object.keys(v as object)) out[key] = num((v as Record<string, unknown>)[key], `${path}.${key}`);
  return out;
}

function metricName(v: unknown, path: string): MetricName {
  if (!METRIC_NAMES.includes(v as MetricName)) fail(path, v, `one of ${METRIC_NAMES.join(', ')}`);
  return v as MetricName;
}

/** Checks one parsed line; returns the record, or null for a record type this version does not know. */
export function validateRecord(value: unknown): MetricsRecord | null {
  if (!isObject(value)) fail('the line', value, 'a JSON object');
  const v = value as Record<string, unknown>;
  if (v.type === 'step') {
    const record: StepRecord = {
      type: 'step',
      step: count(v.step, 'step'),
      epoch: count(v.epoch, 'epoch'),
      losses: numberMap(v.losses, 'losses'),
    };
    if (v.weights !== undefined) record.weights = numberMap(v.weights, 'weights');
    if (v.cosines !== undefined) record.cosines = numberMap(v.cosines, 'cosines');
    if (v.norms !== undefined) record.norms = numberMap(v.norms, 'norms');
    if (v.conflicts !== undefined) record.conflicts = count(v.conflicts, 'conflicts');
    if (v.timing !== undefined) {
      const timing = numberMap(v.timing, 'timing');
      record.timing = {};
      for (const part of [...TIMING_PARTS, 'total'] as const) if (part in timing) record.timing[part] = timing[part];
    }
    return record;
  }
  if (v.type === 'eval') {
    if (v.split !== 'train' && v.split !== 'validation') fail('split', v.split, '"train" or "validation"');
    if (!isObject(v.tasks)) fail('tasks', v.tasks, 'an object');
    const tasks: Record<string, TaskEvaluation> = Object.create(null);
    for (const name of Object.keys(v.tasks as object)) {
      const t = (v.tasks as Record<string, unknown>)[name];
      const where = `tasks.${name}`;
      if (!isObject(t)) fail(where, t, 'an object');
      const task = t as Record<string, unknown>;
      tasks[name] = {
        loss: num(task.loss, `${where}.loss`),
        metric: num(task.metric, `${where}.metric`),
        metricName: metricName(task.metricName, `${where}.metricName`),
      };
    }
    const record: EvalRecord = { type: 'eval', epoch: count(v.epoch, 'epoch'), step: count(v.step, 'step'), split: v.split as EvalRecord['split'], tasks };
    if (v.gates !== undefined) {
      if (!isObject(v.gates)) fail('gates', v.gates, 'an object of gate: {expert: weight}');
      record.gates = Object.create(null);
      for (const gate of Object.keys(v.gates as object)) record.gates![gate] = numberMap((v.gates as Record<string, unknown>)[gate], `gates.${gate}`);
    }
    return record;
  }
  if (typeof v.type !== 'string') fail('type', v.type, '"step" or "eval"');
  return null;
}

/** Checks a parsed summary.json; throws a UserError naming the file (`label`) and the field. */
export function validateSummary(value: unknown, label: string = RUN_FILES.summary): RunSummary {
  try {
    if (!isObject(value)) fail('summary', value, 'a JSON object');
    const v = value as Record<string, unknown>;
    if (typeof v.name !== 'string') fail('name', v.name, 'a string');
    if (typeof v.strategy !== 'string') fail('strategy', v.strategy, 'a string');
    if (!Array.isArray(v.tasks)) fail('tasks', v.tasks, 'a list');
    const optional = (x: unknown, path: string) => (x === null || x === undefined ? null : num(x, path));
    const tasks = (v.tasks as unknown[]).map((t, i): TaskSummary => {
      if (!isObject(t)) fail(`tasks[${i}]`, t, 'an object');
      const task = t as Record<string, unknown>;
      if (typeof task.name !== 'string') fail(`tasks[${i}].name`, task.name, 'a string');
      return {
        ...task,
        name: task.name as string,
        metricName: metricName(task.metricName, `tasks[${i}].metricName`),
        bestValidation: optional(task.bestValidation, `tasks[${i}].bestValidation`),
        finalValidation: optional(task.finalValidation, `tasks[${i}].finalValidation`),
      };
    });
    const summary: RunSummary = Object.assign(Object.create(null) as object, v, {
      name: v.name as string,
      strategy: v.strategy as string,
      tasks,
      steps: count(v.steps, 'steps'),
      seconds: num(v.seconds, 'seconds'),
      stepsPerSecond: num(v.stepsPerSecond, 'stepsPerSecond'),
    });
    return summary;
  } catch (e) {
    if (e instanceof FormatError) throw new UserError(`${label}: ${e.message}`);
    throw e;
  }
}

// ---------------------------------------------------------------------------
// Reading

/** Lines longer than this are skipped as malformed (never buffered whole). */
export const MAX_LINE_BYTES = 1 << 20;
const MAX_WARNINGS_KEPT = 20;

export interface MetricsReadResult {
  /** records passed to onRecord */
  records: number;
  /** malformed lines skipped */
  skipped: number;
  /** records of a type this version does not know, ignored */
  ignored: number;
  /** the first few problems, "metrics.jsonl line N: ..." */
  warnings: string[];
}

/**
 * Streams metrics.jsonl, calling onRecord for every valid line. A malformed
 * line (bad JSON, wrong field type, too long) is skipped and counted, never fatal.
 */
export async function readMetrics(path: string, onRecord: (record: MetricsRecord) => void,
  label = RUN_FILES.metrics): Promise<MetricsReadResult> {
  const result: MetricsReadResult = { records: 0, skipped: 0, ignored: 0, warnings: [] };
  const warn = (line: number, message: string) => {
    result.skipped++;
    if (result.warnings.length < MAX_WARNINGS_KEPT) result.warnings.push(`${label} line ${line}: ${message}`);
  };
  const handle = (bytes: Buffer | null, line: number) => {
    if (bytes === null) return warn(line, `longer than ${MAX_LINE_BYTES} bytes`);
    const text = bytes.toString('utf8').trim();
    if (text === '') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return warn(line, 'not valid JSON');
    }
    try {
      const record = validateRecord(parsed);
      if (record === null) result.ignored++;
      else {
        result.records++;
        onRecord(record);
      }
    } catch (e) {
      if (e instanceof FormatError) return warn(line, e.message);
      throw e;
    }
  };

  let parts: Buffer[] = [];
  let length = 0;
  let oversized = false;
  let line = 0;
  const stream = createReadStream(path);
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let start = 0;
    for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
      line++;
      if (!oversized && length + nl - start <= MAX_LINE_BYTES) {
        parts.push(chunk.subarray(start, nl));
        handle(Buffer.concat(parts), line);
      } else handle(null, line);
      parts = [];
      length = 0;
      oversized = false;
      start = nl + 1;
    }
    if (start < chunk.length && !oversized) {
      length += chunk.length - start;
      if (length > MAX_LINE_BYTES) {
        oversized = true;
        parts = [];
      } else parts.push(chunk.subarray(start));
    }
  }
  if (length > 0 || oversized) handle(oversized ? null : Buffer.concat(parts), line + 1);
  return result;
}

/** Parses a JSON file, naming it in the error. */
export function readJsonFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UserError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UserError(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

/** summary.json of a run directory, validated. */
export function readSummary(dir: string): RunSummary {
  const path = join(dir, RUN_FILES.summary);
  return validateSummary(readJsonFile(path), path);
}

/** Throws a UserError unless `dir` holds at least a summary or metrics file. */
export function checkRunDirectory(dir: string): void {
  if (!existsSync(join(dir, RUN_FILES.summary)) && !existsSync(join(dir, RUN_FILES.metrics))) {
    throw new UserError(`${dir}: not a run directory (no ${RUN_FILES.summary} or ${RUN_FILES.metrics})`);
  }
}

/** Reads an optional run file: missing or invalid (a UserError) becomes a warning and undefined. */
export function optionalFile<T>(dir: string, file: string, read: () => T, warnings: string[], quietIfMissing = false): T | undefined {
  if (!existsSync(join(dir, file))) {
    if (!quietIfMissing) warnings.push(`${file} is missing`);
    return undefined;
  }
  try {
    return read();
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    warnings.push(e.message);
    return undefined;
  }
}

/**
 * Reads a run directory into memory. Missing or broken files become warnings
 * (a run still in progress has no summary yet); only a directory with neither
 * summary nor metrics is an error.
 */
export async function readRun(dir: string): Promise<RunData> {
  checkRunDirectory(dir);
  const warnings: string[] = [];
  const run: RunData = { dir, records: [], warnings };
  run.config = optionalFile(dir, RUN_FILES.config, () => readJsonFile(join(dir, RUN_FILES.config)), warnings);
  run.summary = optionalFile(dir, RUN_FILES.summary, () => readSummary(dir), warnings);
  if (existsSync(join(dir, RUN_FILES.metrics))) {
    const result = await readMetrics(join(dir, RUN_FILES.metrics), (r) => run.records.push(r));
    warnings.push(...metricsWarnings(result));
  } else warnings.push(`${RUN_FILES.metrics} is missing`);
  return run;
}

/** The warnings to show for a metrics read: the first problems and a count of the rest. */
export function metricsWarnings(result: MetricsReadResult): string[] {
  const out = [...result.warnings];
  if (result.skipped > result.warnings.length) {
    out.push(`${RUN_FILES.metrics}: ${result.skipped - result.warnings.length} more malformed lines skipped (${result.skipped} in all)`);
  }
  return out;
}
