/**
 * `multitask init data.csv`: a starter config from a table's columns.
 *
 * Each column's role is guessed from its non-missing values, in this order:
 *   1. every value missing                               → ignored
 *   2. text, at most 20 distinct values                  → classification task
 *      (2 values: bce_with_logits, more: cross_entropy)
 *   3. text, more distinct values                        → ignored (an ID or free text)
 *   4. numbers, all integers, 2 to 10 distinct values    → classification task
 *   5. other numbers                                     → feature, or a regression task when it
 *      looks like a target: named like one (y, target, label, outcome, response, or
 *      target_/_target, label_/_label) or missing in at least 5% of the rows (as a
 *      feature each of those rows would be left out of training; a label may be missing)
 * Without `targets` every task is a guess, so each is written with a `comment`
 * asking the user to confirm it (and printed as a question). When no column
 * looks like a target, the last numeric column becomes an mse task (asked too).
 * With `targets` given, those columns are the tasks (classification or mse, by
 * the same rules) and every other usable column is a feature: integer class
 * columns as `name:category` (one-hot), as printed.
 * The lines printed are made from the config written, so they cannot differ;
 * rows that training would leave out for a missing feature value are counted.
 */
import { basename, dirname, relative, resolve } from 'node:path';
import { parseNumber } from '../model/cells.js';
import { loadTable } from '../data/load-table.js';
import type { Cell } from '../data/table.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { UserError } from '../util/errors.js';
import { configDefaults, type TaskEntry } from '../trainer/config.js';
import type { CliConfig } from './config.js';
import { checkOutputFile } from './out-file.js';

const MAX_TEXT_CLASSES = 20;
const MAX_INTEGER_CLASSES = 10;
/** A numeric column missing in at least this share of the rows is proposed as a target. */
const TARGET_MISSING_SHARE = 0.05;
const TARGET_NAME = /^(y|target|label|outcome|response)$|^(target|label)[_\s.-]|[_\s.-](target|label)$/i;
const TASK_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export type ColumnRole = 'classification' | 'feature' | 'ignored';

export interface ColumnGuess {
  column: string;
  role: ColumnRole;
  kind: 'text' | 'integer' | 'number' | 'empty';
  distinct: number;
  /** cells without a value */
  missing: number;
  /** A few of the values, for the explanation. */
  examples: string[];
  why: string;
}

function sortedPreview(values: Set<string>): string[] {
  return [...values].slice(0, 50).sort().slice(0, 4);
}

/** The guess for one column from its cells. */
export function guessColumn(column: string, cells: readonly Cell[]): ColumnGuess {
  const present = cells.filter((c): c is string | number => c !== null);
  const missing = cells.length - present.length;
  if (present.length === 0) return { column, role: 'ignored', kind: 'empty', distinct: 0, missing, examples: [], why: 'every value is missing' };
  const distinct = new Set(present.map(String));
  const numbers = present.map(parseNumber);
  const examples = sortedPreview(distinct);
  if (numbers.some((n) => n === undefined)) {
    return distinct.size <= MAX_TEXT_CLASSES
      ? { column, role: 'classification', kind: 'text', distinct: distinct.size, missing, examples, why: `text with ${distinct.size} distinct values` }
      : { column, role: 'ignored', kind: 'text', distinct: distinct.size, missing, examples, why: `text with ${distinct.size} distinct values (an ID or free text?)` };
  }
  const integers = numbers.every((n) => Number.isInteger(n));
  if (integers && distinct.size >= 2 && distinct.size <= MAX_INTEGER_CLASSES) {
    return { column, role: 'classification', kind: 'integer', distinct: distinct.size, missing, examples, why: `integers with ${distinct.size} distinct values` };
  }
  if (distinct.size === 1) return { column, role: 'ignored', kind: integers ? 'integer' : 'number', distinct: 1, missing, examples, why: 'a constant' };
  return { column, role: 'feature', kind: integers ? 'integer' : 'number', distinct: distinct.size, missing, examples, why: `${integers ? 'integers' : 'numbers'} with ${distinct.size} distinct values` };
}

/** Why a numeric column looks like a target, or undefined (see the module comment). */
export function targetLikeness(g: ColumnGuess, rows: number): string | undefined {
  if (g.role !== 'feature') return undefined;
  if (TARGET_NAME.test(g.column)) return 'its name reads like a target';
  if (rows > 0 && g.missing / rows >= TARGET_MISSING_SHARE) {
    return `${g.missing} of ${rows} values are missing: as a feature each of those rows would be left out of training, while a task just has them unlabelled`;
  }
  return undefined;
}

function taskFor(g: ColumnGuess, comment?: string): TaskEntry {
  const classes = g.role === 'classification' || g.kind === 'text';
  const loss = classes ? (g.distinct === 2 ? 'bce_with_logits' : 'cross_entropy') : 'mse';
  const entry: TaskEntry = { column: g.column, loss, ...(comment ? { comment } : {}) };
  if (!TASK_NAME.test(g.column)) {
    const name = g.column.replace(/[^A-Za-z0-9_]+/g, '_').replace(/^_+|_+$/g, '').replace(/^(\d)/, '_$1') || 'task';
    return { name, ...entry };
  }
  return entry;
}

/** A guessed task's question, written as its `comment` and printed. */
const question = (g: ColumnGuess, why: string) =>
  `init guessed this task (${why}): is ${JSON.stringify(g.column)} a target? Keep it, or delete this task and add the column to data.features.`;

/** A feature column as written in data.features: integer class columns one-hot (`name:category`). */
const featureEntry = (g: ColumnGuess) => (g.role === 'classification' && g.kind !== 'text' ? `${g.column}:category` : g.column);

export interface InitResult {
  config: CliConfig;
  guesses: ColumnGuess[];
  lines: string[];
  /** the questions about guessed targets (also each task's `comment` in the config) */
  questions: string[];
  /** rows training would leave out because a feature value is missing */
  droppedRows: number;
}

/** Which columns are tasks: the given targets, or the guessed ones with why each was guessed. */
function chooseTasks(guesses: ColumnGuess[], rows: number, dataPath: string, targets?: readonly string[]): Map<ColumnGuess, string | undefined> {
  if (targets) return new Map(guesses.filter((g) => targets.includes(g.column)).map((g) => [g, undefined]));
  const chosen = new Map<ColumnGuess, string | undefined>();
  for (const g of guesses) if (g.role === 'classification') chosen.set(g, g.why);
  const numeric = guesses.filter((g) => g.role === 'feature');
  const targetLike = numeric.map((g) => [g, targetLikeness(g, rows)] as const).filter(([, why]) => why !== undefined);
  // one proposed for its missing values only while another numeric column stays a feature
  for (const [g, why] of targetLike) {
    if (numeric.some((f) => f !== g && !chosen.has(f) && !targetLike.some(([t]) => t === f)) || TARGET_NAME.test(g.column)) chosen.set(g, why);
  }
  if (chosen.size === 0) {
    const fallback = [...numeric].reverse()[0];
    if (!fallback) throw new UserError(`${dataPath}: no column looks like a target (class labels or numbers); name them with --targets`);
    chosen.set(fallback, 'no column looks like class labels, so the last numeric column');
  }
  return chosen;
}

/** The starter config and what was guessed, in plain lines. */
export function initConfig(dataPath: string, outPath: string, targets?: readonly string[]): InitResult {
  const table = loadTable(dataPath);
  const column = (c: number) => Array.from({ length: table.rowCount }, (_, r) => table.cell(r, c));
  const guesses = table.columns.map((name, c) => guessColumn(name, column(c)));
  if (targets) {
    for (const t of targets) if (!table.columns.includes(t)) throw new UserError(`--targets: ${dataPath} has no column ${JSON.stringify(t)}; columns: ${table.columns.join(', ')}`);
  }
  const chosen = chooseTasks(guesses, table.rowCount, dataPath, targets);
  // every other usable column is a feature (text and integer class columns one-hot)
  const features = guesses.filter((g) => !chosen.has(g) && g.role !== 'ignored');
  if (features.length === 0) throw new UserError(`${dataPath}: no column is left as a feature once the targets are taken (give the targets with --targets)`);
  // in the table's column order
  const tasks = guesses.filter((g) => chosen.has(g)).map((g) => {
    const why = chosen.get(g);
    return taskFor(g, why === undefined ? undefined : question(g, why));
  });

  const dataRef = relative(dirname(resolve(outPath)), resolve(dataPath)) || basename(dataPath);
  const d = configDefaults();
  const config: CliConfig = {
    data: { path: dataRef, features: features.map(featureEntry) },
    tasks,
    validation: d.validation,
    model: { trunk: d.model.trunk, activation: d.model.activation },
    strategy: d.strategy,
    optimizer: { name: d.optimizer.name, lr: d.optimizer.lr },
    schedule: d.schedule,
    epochs: d.epochs,
    batchSize: d.batchSize,
    seed: d.seed,
  };

  const lines = [`${dataPath}: ${table.rowCount} rows, ${table.columns.length} columns`];
  const width = Math.max(...guesses.map((g) => g.column.length));
  for (const g of guesses) {
    const shown = g.examples.length ? ` (${g.examples.join(', ')}${g.distinct > g.examples.length ? ', ...' : ''})` : '';
    const missing = g.missing > 0 && g.kind !== 'empty' ? `, ${g.missing} missing` : '';
    lines.push(`  ${g.column.padEnd(width)}  ${g.why}${g.kind === 'text' || g.role === 'classification' ? shown : ''}${missing} → ${writtenRole(config, g)}`);
  }
  const droppedRows = countDropped(table, features.map((g) => table.columns.indexOf(g.column)));
  const missingIn = features.filter((g) => g.missing > 0).map((g) => `${g.column} ${g.missing}`);
  lines.push(droppedRows > 0
    ? `${droppedRows} of ${table.rowCount} rows miss a feature value (${missingIn.join(', ')}): training will leave them out`
    : 'no row misses a feature value');
  const questions = tasks.flatMap((t) => (t.comment ? [`  ${t.name ?? t.column}: ${t.comment}`] : []));
  if (questions.length) lines.push(`guessed targets, to confirm (each task's "comment" in ${outPath} asks the same):`, ...questions);
  return { config, guesses, lines, questions, droppedRows };
}

/** A column's role as the config has it: the line printed is read off what is written. */
function writtenRole(config: CliConfig, g: ColumnGuess): string {
  const task = config.tasks?.find((t) => t.column === g.column);
  if (task) return `task ${task.name ?? task.column}, ${task.loss}${task.comment ? ' (a guess: see the question below)' : ''}`;
  const features = config.data?.kind === 'arrays' ? [] : config.data?.features ?? [];
  if (features.includes(`${g.column}:category`) || (features.includes(g.column) && g.kind === 'text')) return 'feature (one-hot)';
  if (features.includes(g.column)) return 'feature (numeric; or a regression task: move it to "tasks" with "loss": "mse")';
  return 'ignored';
}

/** Rows with no value in at least one of the feature columns (training leaves them out). */
function countDropped(table: { rowCount: number; cell(r: number, c: number): Cell }, columns: number[]): number {
  let dropped = 0;
  for (let r = 0; r < table.rowCount; r++) if (columns.some((c) => table.cell(r, c) === null)) dropped++;
  return dropped;
}

/** Writes the starter config; refuses to overwrite unless `force`. */
export function initCommand(dataPath: string, outPath: string, options: { force?: boolean; targets?: string[] }): InitResult {
  checkOutputFile(outPath, '--out', { force: options.force, inputs: [dataPath] });
  const result = initConfig(dataPath, outPath, options.targets);
  writeFileAtomic(outPath, `${JSON.stringify(result.config, null, 2)}\n`);
  return result;
}
