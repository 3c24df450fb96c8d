/**
 * `multitask init data.csv`: a starter config from a table's columns.
 *
 * Each column's role is guessed from its non-missing values, in this order:
 *   1. every value missing                               → ignored
 *   2. text, at most 20 distinct values                  → classification task
 *      (2 values: bce_with_logits, more: cross_entropy)
 *   3. text, more distinct values                        → ignored (an ID or free text)
 *   4. numbers, all integers, 2 to 10 distinct values    → classification task
 *   5. other numbers                                     → feature (or a regression task)
 * With `targets` given, those columns are the tasks (classification or mse,
 * by the same rules) and every other usable column is a feature. When no
 * column looks like a class label, the last numeric column becomes an mse task.
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
const TASK_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export type ColumnRole = 'classification' | 'feature' | 'ignored';

export interface ColumnGuess {
  column: string;
  role: ColumnRole;
  kind: 'text' | 'integer' | 'number' | 'empty';
  distinct: number;
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
  if (present.length === 0) return { column, role: 'ignored', kind: 'empty', distinct: 0, examples: [], why: 'every value is missing' };
  const distinct = new Set(present.map(String));
  const numbers = present.map(parseNumber);
  const examples = sortedPreview(distinct);
  if (numbers.some((n) => n === undefined)) {
    return distinct.size <= MAX_TEXT_CLASSES
      ? { column, role: 'classification', kind: 'text', distinct: distinct.size, examples, why: `text with ${distinct.size} distinct values` }
      : { column, role: 'ignored', kind: 'text', distinct: distinct.size, examples, why: `text with ${distinct.size} distinct values (an ID or free text?)` };
  }
  const integers = numbers.every((n) => Number.isInteger(n));
  if (integers && distinct.size >= 2 && distinct.size <= MAX_INTEGER_CLASSES) {
    return { column, role: 'classification', kind: 'integer', distinct: distinct.size, examples, why: `integers with ${distinct.size} distinct values` };
  }
  if (distinct.size === 1) return { column, role: 'ignored', kind: integers ? 'integer' : 'number', distinct: 1, examples, why: 'a constant' };
  return { column, role: 'feature', kind: integers ? 'integer' : 'number', distinct: distinct.size, examples, why: `${integers ? 'integers' : 'numbers'} with ${distinct.size} distinct values` };
}

function taskFor(g: ColumnGuess): TaskEntry {
  const classes = g.role === 'classification' || g.kind === 'text';
  const loss = classes ? (g.distinct === 2 ? 'bce_with_logits' : 'cross_entropy') : 'mse';
  const entry: TaskEntry = { column: g.column, loss };
  if (!TASK_NAME.test(g.column)) {
    const name = g.column.replace(/[^A-Za-z0-9_]+/g, '_').replace(/^_+|_+$/g, '').replace(/^(\d)/, '_$1') || 'task';
    return { name, ...entry };
  }
  return entry;
}

export interface InitResult {
  config: CliConfig;
  guesses: ColumnGuess[];
  lines: string[];
}

/** The starter config and what was guessed, in plain lines. */
export function initConfig(dataPath: string, outPath: string, targets?: readonly string[]): InitResult {
  const table = loadTable(dataPath);
  const guesses = table.columns.map((column, c) => guessColumn(column, Array.from({ length: table.rowCount }, (_, r) => table.cell(r, c))));
  if (targets) {
    for (const t of targets) if (!table.columns.includes(t)) throw new UserError(`--targets: ${dataPath} has no column ${JSON.stringify(t)}; columns: ${table.columns.join(', ')}`);
  }
  const isTarget = (g: ColumnGuess) => (targets ? targets.includes(g.column) : g.role === 'classification');
  let taskGuesses = guesses.filter(isTarget);
  let fallback: ColumnGuess | undefined;
  if (taskGuesses.length === 0) {
    fallback = [...guesses].reverse().find((g) => g.role === 'feature');
    if (!fallback) throw new UserError(`${dataPath}: no column looks like a target (class labels or numbers); name them with --targets`);
    taskGuesses = [fallback];
  }
  // every other usable column is a feature (text columns one-hot)
  const features = guesses.filter((g) => !taskGuesses.includes(g) && g.role !== 'ignored');
  const featureList = features.map((g) => g.column);
  if (featureList.length === 0) throw new UserError(`${dataPath}: no column is left as a feature once the targets are taken (give the targets with --targets)`);
  const tasks = taskGuesses.map(taskFor);

  const dataRef = relative(dirname(resolve(outPath)), resolve(dataPath)) || basename(dataPath);
  const d = configDefaults();
  const config: CliConfig = {
    data: { path: dataRef, features: featureList },
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
    const task = tasks.find((t) => t.column === g.column);
    const shown = g.examples.length ? ` (${g.examples.join(', ')}${g.distinct > g.examples.length ? ', ...' : ''})` : '';
    let role: string;
    if (task) role = `task ${task.name ?? task.column}, ${task.loss}${g === fallback ? ' (no column looks like class labels, so the last numeric column)' : ''}`;
    else if (g.role === 'ignored') role = 'ignored';
    else if (g.kind === 'text' || g.role === 'classification') role = 'feature (one-hot)';
    else role = 'feature (or a regression task: move it to "tasks" with "loss": "mse")';
    lines.push(`  ${g.column.padEnd(width)}  ${g.why}${g.kind === 'text' || g.role === 'classification' ? shown : ''} → ${role}`);
  }
  return { config, guesses, lines };
}

/** Writes the starter config; refuses to overwrite unless `force`. */
export function initCommand(dataPath: string, outPath: string, options: { force?: boolean; targets?: string[] }): InitResult {
  checkOutputFile(outPath, '--out', { force: options.force, inputs: [dataPath] });
  const result = initConfig(dataPath, outPath, options.targets);
  writeFileAtomic(outPath, `${JSON.stringify(result.config, null, 2)}\n`);
  return result;
}
