/**
 * Optimizers as update rules over flat slices (segments) of the shared parameter
 * buffer, with PyTorch's update rules and defaults: SGD (momentum, dampening,
 * Nesterov, weight decay), Adam (L2 weight decay) and AdamW (decoupled decay).
 */

import type { Kernels } from '../kernels/types.js';
import { resolveOptimizerConfig, type OptimizerConfig } from './config.js';
import type { Optimizer, Segment } from './optimizer.js';
import { Adam } from './adam.js';
import { Sgd } from './sgd.js';

export {
  OPTIMIZER_NAMES, defaultWeightDecay, resolveOptimizerConfig, validateOptimizerConfig,
  type OptimizerConfig, type OptimizerName, type ResolvedOptimizerConfig,
} from './config.js';
export { checkSegments, type Optimizer, type OptimizerState, type Segment } from './optimizer.js';
export { Adam } from './adam.js';
export { Sgd } from './sgd.js';

/**
 * An optimizer updating params[seg] for each segment. The config is validated
 * (UserError on a bad value) and completed with PyTorch's defaults; state buffers
 * are allocated once here, zero-filled, one contiguous array per buffer.
 */
export function createOptimizer(config: OptimizerConfig, segments: readonly Segment[], kernels: Kernels): Optimizer {
  const resolved = resolveOptimizerConfig(config);
  switch (resolved.name) {
    case 'sgd': return new Sgd(resolved, segments, kernels);
    case 'adam':
    case 'adamw': return new Adam(resolved, segments, kernels);
  }
}
