/**
 * What a model needs to run on raw records: how each feature column becomes
 * inputs (numeric: standardized; categorical: one-hot over its levels) and
 * what each task's outputs mean (class names; a regression target's scaling).
 * Fitted on the training data (data/dataset.ts builds it); carried by the
 * weights file (see model.ts for the metadata format) and used by `Model`.
 *
 * model/ may not import data/: the dataset is seen here only through the
 * structural `EncodedDataset` (data's Dataset satisfies it).
 */
import type { LossKind } from '../kernels/types.js';
import { UserError } from '../util/errors.js';
import { parseNumber, showCell, valueCell } from './cells.js';

export type FeatureKind = 'numeric' | 'categorical';

export interface FeatureColumn {
  name: string;
  kind: FeatureKind;
  /** Categorical: the one-hot levels, sorted. */
  levels?: string[];
}

export interface FeatureEncoding {
  columns: FeatureColumn[];
  /** Expanded input names, one per input: `Beak Length (mm)`, `Island=Biscoe`, ... */
  names: string[];
  /** Per input: x_std = (x − mean) / std (one-hot inputs: mean 0, std 1). */
  mean: Float32Array;
  std: Float32Array;
}

/** What a task's outputs mean. */
export interface TaskPreprocessing {
  name: string;
  loss: LossKind;
  /** The column its labels came from (evaluating records reads the labels there). */
  column: string;
  /** Classification: label index → class name. */
  classes?: string[];
  /** Regression: the model predicts (y − targetMean) / targetStd. */
  targetMean?: number;
  targetStd?: number;
}

export interface Preprocessing {
  features: FeatureEncoding;
  tasks: TaskPreprocessing[];
}

/** The parts of a dataset (data/dataset.ts's Dataset) its preprocessing is read from. */
export interface EncodedDataset {
  encoding: FeatureEncoding;
  tasks: readonly TaskPreprocessing[];
}

/** A dataset's preprocessing: its feature encoding and its tasks' classes and target scaling (copies). */
export function preprocessingOf(ds: EncodedDataset): Preprocessing {
  return {
    features: encodingFromJSON(encodingToJSON(ds.encoding)),
    tasks: ds.tasks.map((t) => ({
      name: t.name,
      loss: t.loss,
      column: t.column,
      ...(t.classes ? { classes: t.classes.slice() } : {}),
      ...(t.targetStd !== undefined ? { targetMean: t.targetMean ?? 0, targetStd: t.targetStd } : {}),
    })),
  };
}

/**
 * Encodes raw records (column → value) into standardized feature rows
 * (records.length × inputWidth) the way the dataset's were.
 */
export function encodeFeatures(ds: { encoding: FeatureEncoding }, records: Record<string, unknown>[], source = 'input'): Float32Array {
  return encodeRecords(ds.encoding, records, source);
}

/** As encodeFeatures, from the encoding alone (e.g. one restored from a checkpoint or a weights file). */
/** Where records come from, for messages: a name (`<name> record <n>`), or a name and each record's place (`data.csv line 12`). */
export type RecordSource = string | { name: string; locate: (record: number) => string };

export function encodeRecords(enc: FeatureEncoding, records: Record<string, unknown>[], source: RecordSource = 'input'): Float32Array {
  const width = enc.names.length;
  const out = new Float32Array(records.length * width);
  const name = typeof source === 'string' ? source : source.name;
  for (let r = 0; r < records.length; r++) {
    const rec = records[r];
    const where = typeof source === 'string' ? `${source} record ${r + 1}` : source.locate(r);
    if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) {
      throw new UserError(`${where}: expected an object of column: value`);
    }
    let off = 0;
    for (const col of enc.columns) {
      const cell = valueCell(rec[col.name], name, r + 1, col.name);
      const at = `${where}, column ${JSON.stringify(col.name)}`;
      if (cell === null) {
        throw new UserError(`${at}: missing value (the model needs every feature: ${enc.columns.map((c) => JSON.stringify(c.name)).join(', ')})`);
      }
      if (col.kind === 'numeric') {
        const v = parseNumber(cell);
        if (v === undefined) throw new UserError(`${at}: ${showCell(cell)} is not a number (the column is numeric)`);
        out[r * width + off] = (v - enc.mean[off]) / enc.std[off];
        off += 1;
      } else {
        const levels = col.levels!;
        const k = levels.indexOf(String(cell));
        if (k < 0) {
          throw new UserError(`${at}: ${JSON.stringify(String(cell))} is not a known level; expected one of ${levels.join(', ')}`);
        }
        out[r * width + off + k] = 1;
        off += levels.length;
      }
    }
  }
  return out;
}

/** A FeatureEncoding as plain JSON (for checkpoints and weights files). */
export interface FeatureEncodingJSON {
  columns: FeatureColumn[];
  names: string[];
  mean: number[];
  std: number[];
}

export function encodingToJSON(enc: FeatureEncoding): FeatureEncodingJSON {
  return {
    columns: enc.columns.map((c) => (c.levels ? { ...c, levels: c.levels.slice() } : { ...c })),
    names: enc.names.slice(),
    mean: Array.from(enc.mean),
    std: Array.from(enc.std),
  };
}

export function encodingFromJSON(j: FeatureEncodingJSON): FeatureEncoding {
  return { columns: j.columns, names: j.names, mean: Float32Array.from(j.mean), std: Float32Array.from(j.std) };
}
