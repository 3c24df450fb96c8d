/**
 * The per-task plan's combination in the step loop (src/protocol/step-loop.ts),
 * slice by slice of the parameter vector.
 */
import type { Kernels } from '../kernels/types.js';
import type { Segment } from '../model/layout.js';
import { intersect } from '../optim/slices.js';
import { getStrategy, strategyRng } from '../strategies/index.js';
import { computeGram, weightedSum } from '../strategies/gram.js';
import type { AnyStrategy } from '../strategies/types.js';
import type { StepLoopCombination } from './messages.js';

/** A per-task plan's part of a worker's slice: the trunk parts (weighted sum) and head parts (each its task's gradient). */
interface CombinePiece {
  /** the update's part; the T reduced task gradients' parts (trunk), or one task's (head t) */
  out: Float32Array;
  grads: Float32Array[];
  /** -1 for the trunk, else the head's task */
  head: number;
}

/**
 * The T×T Gramian of the reduced trunk gradients, its dot products dealt out
 * among the workers (computeGram's share): each entry one kernel dot over the
 * whole trunk, so the same bits whichever worker computes it.
 */
export class GramDots {
  private readonly share: { part: number; of: number };

  constructor(private readonly trunks: readonly Float32Array[], worker: number, workers: number, private readonly kernels: Kernels) {
    this.share = { part: worker, of: workers };
  }

  /** Writes this worker's share of the entries into G (T×T, row-major). */
  compute(G: Float64Array): void {
    computeGram(this.kernels, this.trunks, G, this.share);
  }
}

/**
 * A per-task plan's combination, slice by slice: the Gramian (GramDots), the
 * strategy's weights from it (once, by the last worker to arrive), then each
 * worker's slice of the update: Σ w_t·g_t over the trunk, each head its task's
 * gradient (times its weight for a loss weighting) — the arithmetic the
 * coordinator's recipe does, element by element.
 */
export class SliceCombination {
  private readonly strategy: AnyStrategy;
  readonly dots: GramDots;
  private readonly pieces: CombinePiece[];
  private readonly noGrads: Float32Array[];
  private readonly noOut = new Float32Array(0);

  constructor(private readonly setup: StepLoopCombination, layout: { trunk: Segment; heads: Segment[] }, private readonly T: number,
    worker: number, workers: number, mine: readonly Segment[], reduced: Float32Array[], update: Float32Array,
    private readonly kernels: Kernels, private readonly gramWeights: Float64Array) {
    this.strategy = getStrategy(setup.strategy);
    const { trunk, heads } = layout;
    this.dots = new GramDots(reduced.map((g) => g.subarray(trunk.offset, trunk.offset + trunk.length)), worker, workers, kernels);
    this.noGrads = reduced.map(() => new Float32Array(0));
    const view = (a: Float32Array, g: Segment) => a.subarray(g.offset, g.offset + g.length);
    this.pieces = [
      ...intersect(mine, [trunk]).map((g) => ({ out: view(update, g), grads: reduced.map((r) => view(r, g)), head: -1 })),
      ...heads.flatMap((head, t) => intersect(mine, [head]).map((g) => ({ out: view(update, g), grads: [view(reduced[t], g)], head: t }))),
    ];
  }

  gram(k: number): Float64Array {
    const n = this.T * (this.T + 1);
    return this.gramWeights.subarray(k * n, k * n + this.T * this.T);
  }

  weights(k: number): Float64Array {
    const n = this.T * (this.T + 1);
    return this.gramWeights.subarray(k * n + this.T * this.T, (k + 1) * n);
  }

  /** Step k's weights from its Gramian (the strategy's arithmetic, on no gradient elements: the sums are each worker's). */
  weigh(k: number, step: number): void {
    const result = this.strategy.combine({
      grads: this.noGrads, gram: this.gram(k), step, rng: strategyRng(this.setup.seed, step), kernels: this.kernels,
    }, null, this.setup.options, this.noOut);
    if (result.weights === null || result.state !== null) throw new Error(`strategy ${this.setup.strategy} cannot run in the step loop: it keeps state or gives no weights`);
    this.weights(k).set(result.weights);
  }

  /** This worker's slice of step k's update; false when it is not finite. */
  combine(k: number): boolean {
    const w = this.weights(k);
    const { kernels } = this;
    let finite = true;
    for (const p of this.pieces) {
      if (p.head < 0) {
        weightedSum(kernels, p.grads, w, p.out);
      } else {
        p.out.set(p.grads[0]);
        if (this.strategy.kind === 'weighting') kernels.scale(p.out.length, w[p.head], p.out);
      }
      if (!Number.isFinite(kernels.norm(p.out.length, p.out))) finite = false;
    }
    return finite;
  }
}
