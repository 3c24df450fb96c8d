import type { Kernels } from '../kernels/types.js';
import type { ParameterLayout } from '../model/layout.js';
import type { ModelSpec } from '../model/spec.js';
import { computeGram, GradientCombiner, gradientDiagnostics, type GradientDiagnostics } from '../strategies/index.js';
import { UserError } from '../util/errors.js';
import type { ResolvedConfig } from './config.js';
import type { LossTotals } from './metrics.js';
import type { StepTiming } from './profile.js';

/**
 * The strategy's part of a step, on the per-task gradients the trainer
 * reduced: grads[t] is task t's gradient and grads[T] the update, all in the
 * parameters' layout. Views, the Gramian and loss buffers are made once.
 */
export class StrategyStep {
  /** the gradient strategy (or sequential's weighting); undefined for plain sum and sequential */
  readonly combiner: GradientCombiner | undefined;
  private readonly trunkViews: Float32Array[];
  private readonly updateTrunk: Float32Array;
  private readonly losses: Float64Array;
  private readonly diagnosticGram: Float64Array;
  /** gradnorm: views of the last shared layer in each task gradient, and their Gramian */
  private readonly lastSharedViews: Float32Array[] | undefined;
  private readonly lastSharedGram: Float64Array | undefined;
  /** sequential fresh with a weighting: the weights the next step uses */
  readonly sequentialWeights: Float64Array;

  constructor(private readonly kernels: Kernels, private readonly spec: ModelSpec, private readonly layout: ParameterLayout,
    private readonly grads: Float32Array[], config: ResolvedConfig) {
    const T = spec.tasks.length;
    const { offset, length } = layout.trunk;
    this.trunkViews = grads.slice(0, T).map((g) => g.subarray(offset, offset + length));
    this.updateTrunk = grads[T].subarray(offset, offset + length);
    this.losses = new Float64Array(T);
    this.diagnosticGram = new Float64Array(T * T);
    this.sequentialWeights = new Float64Array(T).fill(1);
    const name = config.weighting ?? (config.strategy === 'sum' || config.strategy === 'sequential' ? undefined : config.strategy);
    this.combiner = name === undefined ? undefined
      : new GradientCombiner(name, T, length, { seed: config.seed, options: config.strategyOptions, kernels });
    const last = layout.entries.filter((e) => e.name.startsWith(`trunk.${spec.trunk.length - 1}.`));
    if (name === 'gradnorm' && last.length === 2) {
      const from = last[0].offset;
      const to = last[1].offset + last[1].size;
      this.lastSharedViews = grads.slice(0, T).map((g) => g.subarray(from, to));
      this.lastSharedGram = new Float64Array(T * T);
    }
  }

  private extras(totals: LossTotals) {
    if (this.lastSharedViews) computeGram(this.kernels, this.lastSharedViews, this.lastSharedGram!);
    const sums = totals.sums;
    for (let t = 0; t < this.losses.length; t++) this.losses[t] = sums[3 * t + 1] > 0 ? sums[3 * t] / sums[3 * t + 1] : 0;
    return { losses: this.losses, lastSharedGram: this.lastSharedGram };
  }

  /**
   * A gradient strategy's step: the shared parameters get the strategy's
   * combination of the task gradients; each head gets its own task's gradient
   * (scaled by the task's weight for loss-weighting strategies, whose weight
   * multiplies the whole task loss).
   */
  combine(step: number, totals: LossTotals, timing: StepTiming): GradientDiagnostics {
    const started = performance.now();
    const combiner = this.combiner!;
    const T = this.spec.tasks.length;
    const result = combiner.combine(this.trunkViews, step, this.updateTrunk, this.extras(totals));
    const weigh = combiner.strategy.kind === 'weighting' && result.weights;
    for (let t = 0; t < T; t++) {
      const head = this.layout.heads[t];
      const dst = this.grads[T].subarray(head.offset, head.offset + head.length);
      dst.set(this.grads[t].subarray(head.offset, head.offset + head.length));
      if (weigh) this.kernels.scale(head.length, result.weights![t], dst);
    }
    timing.combine += performance.now() - started;
    return this.diagnose(result.update, result.weights);
  }

  /**
   * sequential with a loss weighting: the strategy's task weights scale each
   * task's whole gradient. Stale: weights of this step, before the steps. Fresh
   * (`after`): computed after the step, used by the next one (see scaleFresh).
   */
  weighSequential(step: number, totals: LossTotals, timing: StepTiming, after = false): GradientDiagnostics {
    const started = performance.now();
    const T = this.spec.tasks.length;
    const result = this.combiner!.combine(this.trunkViews, step, this.updateTrunk, this.extras(totals));
    const weights = result.weights ?? new Float64Array(T).fill(1);
    if (after) this.sequentialWeights.set(weights);
    else for (let t = 0; t < T; t++) this.kernels.scale(this.grads[t].length, weights[t], this.grads[t]);
    timing.combine += performance.now() - started;
    return this.diagnose(null, weights);
  }

  /** sequential fresh with a weighting: task t's gradient times the weight the previous step computed. */
  scaleFresh(t: number): void {
    if (this.combiner) this.kernels.scale(this.grads[t].length, this.sequentialWeights[t], this.grads[t]);
  }

  /** Gradient diagnostics from the Gramian (computed here when no strategy did). */
  diagnose(update: Float32Array | null, weights: Float64Array | null): GradientDiagnostics {
    const gram = this.combiner?.gram ?? computeGram(this.kernels, this.trunkViews, this.diagnosticGram);
    const combined = update ? { update, weights, grads: this.trunkViews, kernels: this.kernels } : undefined;
    const d = gradientDiagnostics(gram, this.spec.tasks.length, combined);
    if (!update && weights) d.weights = Array.from(weights);
    return d;
  }

  /** Plain data for checkpoints. */
  state(): unknown {
    return this.combiner ? { state: this.combiner.state, sequentialWeights: Array.from(this.sequentialWeights) } : null;
  }

  restore(saved: unknown, source: string): void {
    if (!this.combiner) return;
    const s = saved as { state: unknown; sequentialWeights: number[] } | null;
    if (!s || !Array.isArray(s.sequentialWeights) || s.sequentialWeights.length !== this.spec.tasks.length) {
      throw new UserError(`${source}: holds no state for strategy ${this.combiner.strategy.name}`);
    }
    this.combiner.state = s.state;
    this.sequentialWeights.set(s.sequentialWeights);
  }
}
