/** multitask's public API. */
export { Trainer, type CreateOptions, type FitOptions, type TaskPrediction } from './trainer/trainer.js';
export type { TrainerConfig, ResolvedConfig, DataConfig, StrategyName, SequentialMode, PlanName } from './trainer/config.js';
export { validateConfig, resolveConfig } from './trainer/config.js';
export type { EpochReport, TaskMetrics, TaskMetricsByName } from './trainer/metrics.js';
export type { OptimizerConfig, OptimizerName } from './optim/index.js';
export type { Architecture, LayerSpec, MixtureSpec, ModelSpec, TaskModelSpec } from './model/spec.js';
export { ARCHITECTURES } from './model/spec.js';
export type { Activation, LossKind, Kernels } from './kernels/types.js';
export type { TaskSpec } from './data/task-spec.js';
export type { Dataset } from './data/dataset.js';
export { loadCsvDataset } from './data/dataset-from-table.js';
export { loadPenguins } from './data/penguins.js';
export { getKernels, kernelInfo } from './kernels/index.js';
export { UserError } from './util/errors.js';
export { combineGradients, strategyNames } from './strategies/index.js';
export { MODEL_FORMAT, METADATA_KEY, type Prediction, type PredictOptions, type LoadOptions, type EvaluationData, type LabelledDataset } from './model/model.js';
export type { Preprocessing, TaskPreprocessing, FeatureEncoding, FeatureColumn, FeatureKind } from './model/preprocessing.js';
export type { TaskReport, ClassificationReport, RegressionReport } from './model/metrics.js';
export { toOnnx, onnxOutputs, ONNX_INPUT, type OnnxOutput, type OnnxExportOptions } from './model/onnx.js';

import { Model } from './model/model.js';
import { legacyPreprocessing } from './trainer/legacy-model.js';
// A weights file written before weights files carried their preprocessing: Model.load rebuilds
// it from the run directory's config, which needs the data loaders (src/model/ may not import them).
Model.legacyPreprocessing = legacyPreprocessing;
export { Model, legacyPreprocessing };
