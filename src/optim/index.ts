/*
 * src/optim/: optimizers as update rules with explicit state (PyTorch's SGD, Adam,
 * AdamW; rule.ts) and their binding to segments of the parameter vector for the
 * trainer, with the optimizer part of the config schema.
 * May import: util, kernels, model, strategies.
 */
/**
 * Optimizers: update rules with explicit state (rule.ts) — PyTorch's SGD
 * (momentum, dampening, Nesterov, weight decay), Adam (L2 weight decay) and AdamW
 * (decoupled decay) — bound to flat slices (segments) of the shared parameter
 * buffer for the trainer.
 */

import type { Kernels } from '../kernels/types.js';
import { resolveOptimizerConfig, type OptimizerConfig, type ResolvedOptimizerConfig } from './config.js';
import { adamRule } from './adam.js';
import { SegmentOptimizer, type Optimizer, type Segment } from './optimizer.js';
import { sgdRule } from './sgd.js';
import type { UpdateRule } from './rule.js';

export {
  OPTIMIZER_NAMES, defaultWeightDecay, resolveOptimizerConfig, validateOptimizerConfig,
  type OptimizerConfig, type OptimizerName, type ResolvedOptimizerConfig,
} from './config.js';
export { checkSegments, type Optimizer, type OptimizerState, type Segment } from './optimizer.js';
export { adamRule, float64Adam } from './adam.js';
export { sgdRule } from './sgd.js';
export { applyRule, initState, type FloatArray, type RuleState, type UpdateRule } from './rule.js';

/**
 * An optimizer updating params[seg] for each segment. The config is validated
 * (UserError on a bad value) and completed with PyTorch's defaults; state buffers
 * are allocated once here, zero-filled, one contiguous array per buffer.
 */
export function createOptimizer(config: OptimizerConfig, segments: readonly Segment[], kernels: Kernels,
  allocate?: (n: number) => Float32Array): Optimizer {
  const resolved = resolveOptimizerConfig(config);
  return new SegmentOptimizer(resolved, updateRule(resolved, kernels), segments, allocate);
}

/** The update rule of a resolved optimizer config (the same arithmetic on every thread that runs it). */
export function updateRule(config: ResolvedOptimizerConfig, kernels: Kernels): UpdateRule {
  return config.name === 'sgd' ? sgdRule(config, kernels) : adamRule(config, kernels.adamStep, kernels.adamStepSummed);
}
