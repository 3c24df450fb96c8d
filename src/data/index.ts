/** Data: tables from CSV/JSON, multi-task datasets in shared memory, samplers, built-in data. */
export { type CsvData, parseCsv, readCsv } from './csv.js';
export {
  type Cell, type Table, MISSING_TOKENS, isMissingToken, tableFromCsv, tableFromRecords, tableFromJsonFile, loadTable,
} from './table.js';
export { type TaskSpec, CLASSIFICATION_LOSSES, parseTaskSpec, checkTaskSpec, isClassification, isBinary } from './task-spec.js';
export {
  type TaskData, type FeatureKind, type FeatureColumn, type FeatureEncoding, type FeatureEncodingJSON, type Dataset,
  type DatasetOptions, type SharedTaskData, type SharedDatasetHandle, type WorkerDataset,
  DEFAULT_VALIDATION_FRACTION, buildDataset, loadCsvDataset, loadDataset, splitRows, labelledIndices,
  unstandardizeTarget, encodeFeatures, encodeRecords, encodingToJSON, encodingFromJSON, shareDataset, attachDataset,
} from './dataset.js';
export { type PenguinsOptions, PENGUINS_TASKS, PENGUINS_FEATURES, penguinsPath, penguinsTable, loadPenguins } from './penguins.js';
export { EpochSampler } from './sampler.js';
