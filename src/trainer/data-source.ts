/**
 * The data source loader: from a resolved config's `data` and `tasks` to a
 * Dataset — the built-in penguins, synthetic data, a table (CSV, JSON records,
 * JSON Lines; or one per task), a .npy matrix with per-task target files, or
 * in-memory arrays (API): table columns, or a row-major numeric matrix, plus
 * per-task targets, encoded exactly as the same data read from a file.
 */
import type { Dataset } from '../data/dataset.js';
import { buildDataset } from '../data/dataset-from-table.js';
import { tableFromJsonl } from '../data/jsonl.js';
import { loadTable } from '../data/load-table.js';
import { datasetFromNpy, type NpyTarget } from '../data/npy.js';
import { loadPenguins } from '../data/penguins.js';
import { syntheticDataset, type SyntheticKind } from '../data/synthetic.js';
import { rowsTable, tableFromCsv, tableFromJsonFile, type Table } from '../data/table.js';
import { valueCell, type Cell } from '../model/cells.js';
import { concatTaskDatasets } from '../data/task-parts.js';
import { checkTaskSpec, type TaskSpec } from '../data/task-spec.js';
import { UserError } from '../util/errors.js';
import type { DataFormat, ResolvedConfig, ResolvedData, TaskEntry } from './config.js';

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

type Values = ArrayLike<Cell>;
const ARRAYS = 'data (arrays)';

/** A table from named columns of equal length (values as a CSV's cells: null, NaN and missing tokens are missing). */
function tableFromColumns(columns: [string, Values, string][]): Table {
  const [, first, firstWhere] = columns[0];
  const rows = first.length;
  for (const [, values, where] of columns) {
    if (values.length !== rows) throw new UserError(`${where}: ${values.length} values; expected ${rows} (the length of ${firstWhere})`);
  }
  const cells: Cell[][] = Array.from({ length: rows }, (_, r) => columns.map(([name, values]) => valueCell(values[r], ARRAYS, r + 1, name)));
  return rowsTable(ARRAYS, columns.map(([name]) => name), cells, Array.from({ length: rows }, (_, r) => r + 1), 'record');
}

/** The columns of a matrix given as rows or row-major, each named. */
function matrixColumns(data: Extract<ResolvedData, { kind: 'arrays' }>): [string, Values, string][] {
  const m = data.matrix!;
  const rowsGiven = Array.isArray(m);
  const width = rowsGiven ? ((m as number[][])[0]?.length ?? 0) : (data.width ?? data.featureNames?.length);
  if (width === undefined) throw new UserError('data.matrix: a typed array needs data.width (or data.featureNames) to know its columns');
  if (width === 0) throw new UserError('data.matrix: no columns');
  const rows = rowsGiven ? m.length : m.length / width;
  if (!Number.isInteger(rows)) throw new UserError(`data.matrix: ${m.length} values are not whole rows of ${width} (data.width)`);
  if (rowsGiven) {
    (m as number[][]).forEach((row, r) => {
      if (row.length !== width) throw new UserError(`data.matrix[${r}]: ${row.length} values; expected ${width} (the length of data.matrix[0])`);
    });
  }
  const names = data.featureNames ?? Array.from({ length: width }, (_, c) => `x${c}`);
  if (names.length !== width) throw new UserError(`data.featureNames: ${names.length} names; expected ${width} (the matrix's columns)`);
  return names.map((name, c) => {
    const values = Array.from({ length: rows }, (_, r) => (rowsGiven ? (m as number[][])[r][c] : (m as ArrayLike<number>)[r * width + c]));
    return [name, values, `data.matrix column ${c}`];
  });
}

/** In-memory data: a table of the columns (or the matrix's) and the targets, then as a CSV table. */
function arraysDataset(data: Extract<ResolvedData, { kind: 'arrays' }>, specs: TaskSpec[], seed: number, validationFraction: number): Dataset {
  const features: [string, Values, string][] = data.columns
    ? Object.entries(data.columns).map(([name, v]) => [name, v as Values, `data.columns[${JSON.stringify(name)}]`])
    : matrixColumns(data);
  const have = new Set(features.map(([name]) => name));
  const targets: [string, Values, string][] = [];
  for (const [key, values] of Object.entries(data.targets ?? {})) {
    const spec = specs.find((s) => s.column === key || s.name === key);
    if (!spec) throw new UserError(`data.targets[${JSON.stringify(key)}]: no task has this name or column (tasks: ${specs.map((s) => s.name).join(', ')})`);
    if (have.has(spec.column)) throw new UserError(`data.targets[${JSON.stringify(key)}]: column ${JSON.stringify(spec.column)} is also among the feature columns`);
    targets.push([spec.column, values as Values, `data.targets[${JSON.stringify(key)}]`]);
    have.add(spec.column);
  }
  for (const spec of specs) {
    if (!have.has(spec.column)) throw new UserError(`data.targets: missing the labels of task ${JSON.stringify(spec.name)} (a key "${spec.name}" or a column "${spec.column}")`);
  }
  const table = tableFromColumns([...features, ...targets]);
  const featureNames = data.features ? [...data.features] : data.matrix ? features.map(([name]) => name) : undefined;
  return buildDataset(table, { tasks: specs, features: featureNames, seed, validationFraction });
}

/** Loads the rows the config names. */
export function loadData(config: ResolvedConfig): Dataset {
  const { data, seed, validation: validationFraction } = config;
  const tasks = config.tasks ?? [];
  switch (data.kind) {
    case 'builtin':
      return loadPenguins({ seed, validationFraction });
    case 'synthetic': {
      const s = data.synthetic;
      return syntheticDataset({ ...s, kinds: s.kinds as SyntheticKind | SyntheticKind[] | undefined, seed: s.seed ?? seed, validationFraction });
    }
    case 'arrays':
      return arraysDataset(data, tasks.map(taskSpec), seed, validationFraction);
    case 'file':
      break;
  }
  if (data.format === 'npy') {
    const targets: Record<string, NpyTarget> = {};
    tasks.forEach((t, i) => {
      const spec = taskSpec({ ...t, column: t.targets }, i);
      if (Object.hasOwn(targets, spec.name)) throw new UserError(`tasks[${i}]: two tasks are named ${JSON.stringify(spec.name)}`);
      targets[spec.name] = { path: t.targets!, loss: t.loss, classes: t.classes ? [...t.classes] : undefined };
    });
    return datasetFromNpy({ features: data.path, targets, featureNames: data.featureNames, seed, validationFraction });
  }
  const specs = tasks.map(taskSpec);
  const features = data.features ? [...data.features] : undefined;
  if (tasks.some((t) => t.path !== undefined)) {
    // tasks with their own rows: one part per file, in order of first appearance
    const files = new Map<string, TaskSpec[]>();
    tasks.forEach((t, i) => {
      const file = t.path ?? data.path;
      files.set(file, [...(files.get(file) ?? []), specs[i]]);
    });
    const parts = [...files].map(([file, ts]) => ({ table: readTable(file, file === data.path ? data.format : undefined), tasks: ts }));
    return concatTaskDatasets(parts, { features, seed, validationFraction });
  }
  return buildDataset(readTable(data.path, data.format), { tasks: specs, features, seed, validationFraction });
}
