/**
 * What a run's buffers take, estimated before any is allocated (Trainer.create):
 * parameters, optimizer state, the gradient arena (slots × payload), the
 * strategy's per-task gradients, the step loop's buffers and the dataset's
 * Float32 columns. A run that
 * cannot fit in the machine's memory is refused with one line; a worker count
 * far beyond the cores is capped.
 */
import { availableParallelism } from 'node:os';
import type { Dataset } from '../data/dataset.js';
import { buildLayout } from '../model/layout.js';
import type { ModelSpec } from '../model/spec.js';
import { checkMemory } from '../util/memory.js';
import type { ResolvedConfig } from './config.js';
import { chunkCapacity } from './step-chunk.js';

/** Worker threads beyond this many per core are refused (capped, with a notice). */
export const WORKERS_PER_CORE = 4;

/** The bytes each part of a run needs (an upper bound: the largest plan's arena, Adam's two moments). */
export function memoryNeed(config: ResolvedConfig, spec: ModelSpec, dataset: Dataset, shards: number): Record<string, number> {
  const P = buildLayout(spec).total;
  const T = spec.tasks.length;
  const fused = config.strategy === 'sum' && config.plan !== 'per-task';
  const optimizers = config.strategy === 'sequential' ? T : 1;
  return {
    parameters: 4 * P,
    'optimizer state': 4 * P * 2 * optimizers,
    'gradient arena': 4 * P * shards * (fused ? 1 : T),
    'per-task gradients': fused ? 0 : 4 * P * T,
    // steps back to back on the threads: a chunk's batch rows, and a per-task plan's update
    'step loop': 4 * chunkCapacity(config.batchSize) * config.batchSize + (fused ? 0 : 4 * P),
    dataset: dataset.features.byteLength + dataset.tasks.reduce((a, t) => a + t.targets.byteLength, 0),
  };
}

/** Refuses a run that cannot fit in memory (a UserError saying how much it needs). */
export function checkRunMemory(config: ResolvedConfig, spec: ModelSpec, dataset: Dataset, shards: number): void {
  const trunk = spec.trunk.map((l) => l.units).join(',');
  const body = spec.mixture ? spec.mixture.architecture : `trunk ${trunk || 'none'}`;
  checkMemory(`model (inputs ${spec.inputWidth}, ${body}, ${spec.tasks.length} tasks)`, memoryNeed(config, spec, dataset, shards));
}

/** The worker count to use, and the notice when `workers` was capped at WORKERS_PER_CORE × the cores. */
export function cappedWorkers(workers: number, cores = availableParallelism()): { workers: number; notice?: string } {
  const cap = WORKERS_PER_CORE * cores;
  if (workers <= cap) return { workers };
  return { workers: cap, notice: `workers: ${workers} is more than ${WORKERS_PER_CORE} × the ${cores} cores; using ${cap}` };
}
