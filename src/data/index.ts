/** Data: tables from CSV/JSON/JSON Lines, NumPy .npy arrays, multi-task datasets in shared memory, samplers, built-in and synthetic data. */
export { type CsvData, parseCsv, readCsv } from './csv.js';
export {
  type Cell, type Table, MISSING_TOKENS, isMissingToken, tableFromCsv, tableFromRecords, tableFromJsonFile, loadTable,
} from './table.js';
export {
  type FeatureKind, type FeatureColumn, type FeatureEncoding, type FeatureEncodingJSON,
  encodeFeatures, encodeRecords, encodingToJSON, encodingFromJSON,
} from '../model/preprocessing.js';
export { tableFromJsonl, parseJsonl } from './jsonl.js';
export { type TaskSpec, CLASSIFICATION_LOSSES, parseTaskSpec, checkTaskSpec, isClassification, isBinary } from './task-spec.js';
export {
  type TaskData, type Dataset,
  type DatasetOptions, type SharedTaskData, type SharedDatasetHandle, type WorkerDataset,
  DEFAULT_VALIDATION_FRACTION, buildDataset, loadCsvDataset, loadDataset, splitRows, labelledIndices,
  unstandardizeTarget, shareDataset, attachDataset,
  type SplitOptions, type FeatureInput, type LabelInput, type ColumnsInput, type TaskPart, type TaskPartsOptions, type TaskFile,
  checkSplitOptions, checkTasks, datasetFromColumns, concatTaskDatasets, loadTaskDatasets,
} from './dataset.js';
export {
  type NpyHeader, type NpyArray, type NpyTarget, type NpyDatasetOptions, NPY_MAX_HEADER_BYTES,
  readNpy, readNpyHeader, parseNpyHeaderDict, datasetFromNpy,
} from './npy.js';
export {
  type SyntheticKind, type SyntheticOptions, type SyntheticInfo, type SyntheticDataset, SYNTHETIC_DEFAULTS, SYNTHETIC_STREAM,
  NormalSampler, syntheticDataset,
} from './synthetic.js';
export { type PenguinsOptions, PENGUINS_TASKS, PENGUINS_FEATURES, penguinsPath, penguinsTable, loadPenguins } from './penguins.js';
export { EpochSampler } from './sampler.js';
