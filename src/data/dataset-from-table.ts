/**
 * Building a Dataset from a Table (a CSV, JSON or JSON Lines file):
 * - Features: a column is numeric if its first non-missing value is a finite number
 *   (`name:category` / `name:numeric` in `features` forces the kind); categorical
 *   columns are one-hot over their sorted levels. Rows missing any feature value are
 *   dropped (and counted).
 * - Targets, split and standardization: as datasetFromColumns (dataset-from-columns.ts).
 * The feature helpers here are shared with task-parts.ts.
 */
import { UserError } from '../util/errors.js';
import { parseNumber, showCell as show } from '../model/cells.js';
import type { FeatureKind } from '../model/preprocessing.js';
import type { Dataset, DatasetOptions } from './dataset.js';
import { type FeatureInput, checkTasks, datasetFromColumns } from './dataset-from-columns.js';
import { loadTable } from './load-table.js';
import { checkSplitOptions } from './split.js';
import { type Cell, type Table, columnIndex, rowLocation, tableFromCsv } from './table.js';
import type { TaskSpec } from './task-spec.js';

/** Reads a CSV file and builds a Dataset from it. */
export function loadCsvDataset(path: string, opts: DatasetOptions): Dataset {
  return buildDataset(tableFromCsv(path), opts);
}

/** Reads a `.json` (array of records) or CSV file and builds a Dataset from it. */
export function loadDataset(path: string, opts: DatasetOptions): Dataset {
  return buildDataset(loadTable(path), opts);
}

export function buildDataset(table: Table, opts: DatasetOptions): Dataset {
  const src = table.source;
  const split = checkSplitOptions(opts);
  checkTasks(opts.tasks, src);
  const taskCols = opts.tasks.map((spec) => columnIndex(table, spec.column, `(task ${JSON.stringify(spec.name)})`));
  const targetColumns = new Set(opts.tasks.map((t) => t.column));

  // ---- features → columns and kinds
  const entries = featureEntries(table, opts.features, targetColumns);
  const featCols = checkFeatureEntries(table, entries, opts.tasks);
  const kinds: FeatureKind[] = entries.map((e, f) => e.forced ?? detectKind([table], [featCols[f]]));

  // ---- one pass over the rows: parse features, drop rows missing one
  const parsed = parseFeatureRows(table, entries.map((e) => e.name), featCols, kinds);
  const { kept } = parsed;
  if (kept.length === 0) {
    throw new UserError(
      table.rowCount === 0
        ? `${src}: no data rows (only a header)`
        : `${src}: every one of the ${table.rowCount} rows misses a feature value, so none is left`);
  }

  return datasetFromColumns({
    source: src,
    rows: kept.length,
    features: entries.map((e, f) => featureInput(e.name, kinds[f], parsed, f)),
    tasks: opts.tasks.map((spec, t) => ({
      spec,
      label: (i: number) => table.cell(kept[i], taskCols[t]),
      where: (i: number) => rowLocation(table, kept[i]),
    })),
    droppedRows: parsed.dropped,
  }, { ...opts, validationFraction: split.fraction, seed: split.seed });
}

/** A feature entry: a column name and a forced kind (`name:category` / `name:numeric`). */
export interface FeatureEntry { name: string; forced: FeatureKind | undefined }

/** The feature entries of a table: the given ones (parsed), or every column that is not a target. */
export function featureEntries(table: Table, features: readonly string[] | undefined, targetColumns: Set<string>): FeatureEntry[] {
  const entries = features
    ? features.map((f) => parseFeatureEntry(table, f))
    : table.columns.filter((c) => !targetColumns.has(c)).map((name) => ({ name, forced: undefined }));
  if (entries.length === 0) {
    throw new UserError(`${table.source}: no feature columns (every column is a target; columns: ${table.columns.map((c) => JSON.stringify(c)).join(', ')})`);
  }
  return entries;
}

/** Checks the entries against the tasks (no target as a feature, no duplicates); returns their column indices. */
export function checkFeatureEntries(table: Table, entries: FeatureEntry[], tasks: readonly TaskSpec[]): number[] {
  const src = table.source;
  const featCols: number[] = [];
  const seenFeat = new Set<string>();
  for (const e of entries) {
    const task = tasks.find((t) => t.column === e.name);
    if (task) {
      throw new UserError(`${src}: column ${JSON.stringify(e.name)} is both a feature and the target of task ${JSON.stringify(task.name)} (a model must not see its own labels)`);
    }
    if (seenFeat.has(e.name)) throw new UserError(`${src}: feature column ${JSON.stringify(e.name)} is listed twice`);
    seenFeat.add(e.name);
    featCols.push(columnIndex(table, e.name, '(feature)'));
  }
  return featCols;
}

export interface ParsedFeatures {
  /** Table rows kept (no feature missing), ascending. */
  kept: Int32Array;
  /** Per feature: the value of kept row i, read from the table when asked (numeric features only; never a copy of a column). */
  numeric: ((i: number) => number)[];
  /** Per feature: the values of the kept rows (categorical features only). */
  categories: string[][];
  dropped: number;
}

/** One pass over a table's rows: checks the features, drops (and counts) rows missing one. */
export function parseFeatureRows(table: Table, names: string[], featCols: number[], kinds: FeatureKind[]): ParsedFeatures {
  const nf = names.length;
  // typed and sized for every row up front: no growing arrays while a big table is parsed
  const kept = new Int32Array(table.rowCount);
  let n = 0;
  const categories: string[][] = names.map(() => []);
  let dropped = 0;
  const cells: Cell[] = new Array(nf);
  for (let r = 0; r < table.rowCount; r++) {
    let missing = false;
    for (let f = 0; f < nf; f++) {
      if (kinds[f] === 'numeric' && table.number) {
        // a CSV table's numbers come without a string made per cell
        const v = table.number(r, featCols[f]);
        if (v === null) { missing = true; continue; }
        if (v !== undefined) continue;
      }
      const cell = table.cell(r, featCols[f]);
      cells[f] = cell;
      if (cell === null) { missing = true; continue; }
      if (kinds[f] === 'numeric' && parseNumber(cell) === undefined) {
        throw new UserError(
          `${rowLocation(table, r)}, column ${JSON.stringify(names[f])}: ${show(cell)} is not a number (the column is numeric)`);
      }
    }
    if (missing) { dropped++; continue; }
    for (let f = 0; f < nf; f++) if (kinds[f] !== 'numeric') categories[f].push(String(cells[f]));
    kept[n++] = r;
  }
  const rows = kept.subarray(0, n);
  const numberAt = table.number ? (r: number, c: number) => table.number!(r, c) : (r: number, c: number) => parseNumber(table.cell(r, c));
  const numeric = featCols.map((c) => (i: number) => numberAt(rows[i], c)!);
  return { kept: rows, numeric, categories, dropped };
}

export function featureInput(name: string, kind: FeatureKind, parsed: ParsedFeatures, f: number): FeatureInput {
  return kind === 'numeric'
    ? { name, kind, at: parsed.numeric[f] }
    : { name, kind, values: parsed.categories[f] };
}

/** A column's kind from its first non-missing value, looking through the tables in order. */
export function detectKind(tables: readonly Table[], cols: readonly number[]): FeatureKind {
  for (let k = 0; k < tables.length; k++) {
    for (let r = 0; r < tables[k].rowCount; r++) {
      const c = tables[k].cell(r, cols[k]);
      if (c !== null) return parseNumber(c) !== undefined ? 'numeric' : 'categorical';
    }
  }
  return 'numeric'; // all missing: every row is dropped anyway
}

export function parseFeatureEntry(table: Table, entry: string): { name: string; forced: FeatureKind | undefined } {
  if (table.columns.includes(entry)) return { name: entry, forced: undefined };
  const m = /^(.*):(category|categorical|numeric)$/.exec(entry);
  if (m) {
    columnIndex(table, m[1], '(feature)');
    return { name: m[1], forced: m[2] === 'numeric' ? 'numeric' : 'categorical' };
  }
  columnIndex(table, entry, '(feature)'); // throws, listing the columns
  return { name: entry, forced: undefined };
}
