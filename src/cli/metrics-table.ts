/**
 * Per-task metrics as the CLI prints them (`eval`, and `train --test`), and
 * the evaluation of a held-out test table.
 */
import { tableRows } from '../data/table.js';
import { loadTable } from '../data/load-table.js';
import type { TaskReport } from '../model/metrics.js';
import type { Model } from '../model/model.js';
import { UserError } from '../util/errors.js';
import { num, table } from './format.js';
import type { Output } from './output.js';

/** The eval table: one row per task, classification and regression columns. */
export function evalTable(reports: Record<string, TaskReport>, output: Output): string {
  const rows = [['task', 'rows', 'accuracy', 'F1', 'AUC', 'RMSE', 'MAE', 'R²']];
  for (const [name, r] of Object.entries(reports)) {
    rows.push(r.kind === 'classification'
      ? [name, String(r.count), num(r.accuracy), num(r.f1), num(r.auc), '—', '—', '—']
      : [name, String(r.count), '—', '—', '—', num(r.rmse), num(r.mae), num(r.r2)]);
  }
  return table(rows, output.style, [1, 2, 3, 4, 5, 6, 7]);
}

/**
 * The metrics of a held-out test table (CSV, JSON or JSON Lines with the
 * feature and label columns), evaluated once with `model`. Rows missing a
 * feature value are left out and counted, as in training.
 */
export function testSetReport(model: Model, path: string): { reports: Record<string, TaskReport>; rows: number; dropped: number } {
  const t = loadTable(path);
  const rows = tableRows(t);
  const wanted = [...model.featureColumns, ...model.preprocessing.tasks.map((task) => task.column)];
  const absent = wanted.filter((c) => !t.columns.includes(c));
  if (absent.length > 0) throw new UserError(`--test ${path}: no column ${absent.map((c) => JSON.stringify(c)).join(', ')}; the test set needs the features and every task's label column`);
  const index = new Map(t.columns.map((c, i) => [c, i]));
  const complete = rows.filter((row) => model.featureColumns.every((c) => row[index.get(c)!] !== null));
  const records = complete.map((row) => Object.fromEntries(wanted.map((c) => [c, row[index.get(c)!]])));
  if (records.length === 0) throw new UserError(`--test ${path}: no row has every feature value`);
  return { reports: model.evaluate(records), rows: records.length, dropped: rows.length - records.length };
}
