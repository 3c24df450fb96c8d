/**
 * Tasks that bring their own rows: one Dataset from several tables, each labelling
 * its own tasks (concatTaskDatasets), or from several files (loadTaskDatasets).
 */
import { UserError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import type { FeatureKind } from '../model/preprocessing.js';
import type { Dataset } from './dataset.js';
import { type FeatureInput, type LabelInput, checkTasks, datasetFromColumns } from './dataset-from-columns.js';
import { checkFeatureEntries, detectKind, featureEntries, parseFeatureRows } from './dataset-from-table.js';
import { loadTable } from './load-table.js';
import { SPLIT_STREAM, type SplitOptions, checkSplitOptions, splitWith } from './split.js';
import { type Table, columnIndex, rowLocation } from './table.js';
import type { TaskSpec } from './task-spec.js';

/** A table and the tasks it labels (its rows are unlabelled for every other task). */
export interface TaskPart {
  table: Table;
  tasks: TaskSpec[];
}

export interface TaskPartsOptions extends SplitOptions {
  /**
   * Feature columns, the same in every part (default: every column of a part that is
   * not the target column of any task; these must then be the same set in every part).
   * `name:category` / `name:numeric` force a kind as in DatasetOptions.
   */
  features?: string[];
  maxLevels?: number;
}

/**
 * One Dataset from several tables that each bring their own rows for their own tasks
 * (same feature columns): the rows are the union of the parts' rows (in part order), and
 * a row is labelled only for the tasks of its part (NaN for the others), so the
 * partial-label machinery trains each task on its own rows. A task may appear in several
 * parts (same loss and classes) to pool their rows. Each part is split separately with
 * the given fraction (stratified by part, so a small part still gets validation rows);
 * part 0 uses exactly buildDataset's split. Feature kinds, one-hot levels and
 * standardization (training rows only) are fitted on the union.
 */
export function concatTaskDatasets(parts: readonly TaskPart[], opts: TaskPartsOptions = {}): Dataset {
  if (!parts || parts.length === 0) throw new UserError('no data parts given (each task needs a table)');
  const { fraction, seed } = checkSplitOptions(opts);
  const source = parts.map((p) => p.table.source).join(' + ');

  // ---- tasks: one per name; a name repeated across parts must mean the same task
  const specs: TaskSpec[] = [];
  const partTaskCols: number[][] = [];
  for (const part of parts) {
    const t = part.table;
    if (!part.tasks || part.tasks.length === 0) throw new UserError(`${t.source}: no tasks given for this file (each part labels at least one task)`);
    checkTasks(part.tasks, t.source);
    partTaskCols.push(part.tasks.map((spec) => columnIndex(t, spec.column, `(task ${JSON.stringify(spec.name)})`)));
    for (const spec of part.tasks) {
      const prev = specs.find((s) => s.name === spec.name);
      if (!prev) { specs.push(spec); continue; }
      if (prev.loss !== spec.loss || JSON.stringify(prev.classes) !== JSON.stringify(spec.classes)) {
        throw new UserError(
          `${t.source}: task ${JSON.stringify(spec.name)} is given again with a different loss or class list ` +
          `(${spec.loss}${spec.classes ? ':' + spec.classes.join('|') : ''} vs ${prev.loss}${prev.classes ? ':' + prev.classes.join('|') : ''})`);
      }
    }
  }

  // ---- features: the same columns in every part
  // (by default every task's target column is left out, not only the part's own: a label is never a feature)
  const allTargets = new Set(parts.flatMap((p) => p.tasks.map((s) => s.column)));
  const partEntries = parts.map((p) => featureEntries(p.table, opts.features, allTargets));
  const ref = partEntries[0];
  const refNames = ref.map((e) => e.name);
  for (let k = 1; k < parts.length; k++) {
    const names = new Set(partEntries[k].map((e) => e.name));
    const missing = refNames.filter((n) => !names.has(n));
    const extra = partEntries[k].map((e) => e.name).filter((n) => !refNames.includes(n));
    if (missing.length > 0 || extra.length > 0) {
      const list = (xs: string[]) => xs.map((x) => JSON.stringify(x)).join(', ');
      throw new UserError(
        `${parts[k].table.source}: its feature columns differ from those of ${parts[0].table.source} ` +
        `(${[missing.length ? `missing ${list(missing)}` : '', extra.length ? `extra ${list(extra)}` : ''].filter(Boolean).join('; ')}); ` +
        `every part needs the same feature columns (pass the feature list, or drop the extra columns)`);
    }
  }
  const partCols = parts.map((p, k) => {
    const byName = new Map(partEntries[k].map((e) => [e.name, e]));
    return checkFeatureEntries(p.table, refNames.map((n) => byName.get(n)!), specs);
  });
  const kinds: FeatureKind[] = ref.map((e, f) => e.forced ?? detectKind(parts.map((p) => p.table), partCols.map((c) => c[f])));

  // ---- rows: each part parsed and split on its own, then concatenated
  const parsed = parts.map((p, k) => parseFeatureRows(p.table, refNames, partCols[k], kinds));
  const starts: number[] = [];
  let n = 0;
  const trainParts: Int32Array[] = [];
  const valParts: Int32Array[] = [];
  for (let k = 0; k < parts.length; k++) {
    const nk = parsed[k].kept.length;
    if (nk === 0) {
      const t = parts[k].table;
      throw new UserError(t.rowCount === 0
        ? `${t.source}: no data rows (only a header)`
        : `${t.source}: every one of the ${t.rowCount} rows misses a feature value, so none is left`);
    }
    const s = splitWith(nk, fraction, k === 0 ? new Rng(seed, SPLIT_STREAM) : new Rng(seed, SPLIT_STREAM, k));
    trainParts.push(s.train.map((i) => i + n));
    valParts.push(s.validation.map((i) => i + n));
    starts.push(n);
    n += nk;
  }
  const cat = (xs: Int32Array[]) => {
    const out = new Int32Array(xs.reduce((a, x) => a + x.length, 0));
    let o = 0;
    for (const x of xs) { out.set(x, o); o += x.length; }
    return out;
  };
  const partOf = (i: number) => {
    let k = starts.length - 1;
    while (starts[k] > i) k--;
    return k;
  };
  const features: FeatureInput[] = refNames.map((name, f) => kinds[f] === 'numeric'
    ? { name, kind: 'numeric', at: (i: number) => { const k = partOf(i); return parsed[k].numeric[f](i - starts[k]); } }
    : { name, kind: 'categorical', values: parsed.flatMap((p) => p.categories[f]) });
  const tasks: LabelInput[] = specs.map((spec) => {
    // per part: the column of this task, or -1 when the part does not label it
    const colOf = parts.map((p, k) => {
      const t = p.tasks.findIndex((s) => s.name === spec.name);
      return t < 0 ? -1 : partTaskCols[k][t];
    });
    const files = parts.filter((_, k) => colOf[k] >= 0).map((p) => p.table.source);
    return {
      spec,
      what: `column ${JSON.stringify(spec.column)} of ${files.join(', ')}`,
      label: (i: number) => {
        const k = partOf(i);
        return colOf[k] < 0 ? null : parts[k].table.cell(parsed[k].kept[i - starts[k]], colOf[k]);
      },
      where: (i: number) => {
        const k = partOf(i);
        return rowLocation(parts[k].table, parsed[k].kept[i - starts[k]]);
      },
    };
  });
  return datasetFromColumns({
    source,
    rows: n,
    features,
    tasks,
    droppedRows: parsed.reduce((a, p) => a + p.dropped, 0),
    split: { train: cat(trainParts), validation: cat(valParts) },
  }, { validationFraction: fraction, seed, maxLevels: opts.maxLevels });
}

/** A data file and the tasks it labels, for loadTaskDatasets. */
export interface TaskFile {
  path: string;
  tasks: TaskSpec[];
}

/** Reads each file (by extension, as loadTable) and builds one Dataset with concatTaskDatasets. */
export function loadTaskDatasets(files: readonly TaskFile[], opts: TaskPartsOptions = {}): Dataset {
  return concatTaskDatasets(files.map((f) => ({ table: loadTable(f.path), tasks: f.tasks })), opts);
}
