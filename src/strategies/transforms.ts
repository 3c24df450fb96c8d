/**
 * The links of a step recipe (recipe.ts): small transforms that each rewrite
 * the step's gradients one way — check and clip, combine them with a strategy
 * (`sum` included), weigh them, hand them to the optimizers one per task, and
 * report diagnostics. A transform reads and writes `StepGradients` in place
 * (the buffers are the reduced frames: nothing is allocated per step) and may
 * drop the step by clearing `ok`.
 */

import { LOSS_STATS_LENGTH, LOSS_SUM, LOSS_WEIGHT, type Kernels } from '../kernels/types.js';
import type { Segment } from '../model/layout.js';
import { gradientDiagnostics, type GradientDiagnostics } from './diagnostics.js';
import { computeGram } from './gram.js';
import type { GradientCombiner } from './index.js';

/** A gradient for one optimizer: which one, the vector (parameter layout) and the tasks it comes from. */
export interface Update {
  optimizer: number;
  grad: Float32Array;
  tasks: readonly number[];
}

/** The gradients of one round of a step, as the transforms see and rewrite them. */
export interface StepGradients {
  /** Per task: its gradient over the whole parameter vector (zero outside the trunk and its head); empty when fused. */
  readonly tasks: readonly Float32Array[];
  /** Per task: its gradient's view of the shared (trunk) parameters. */
  readonly trunks: readonly Float32Array[];
  /** The tasks whose gradients this round brought: all of them, or one when tasks take turns. */
  current: readonly number[];
  /** What goes to the optimizers, in the order they step. */
  updates: Update[];
  /** False once a transform dropped the step. */
  ok: boolean;
  diagnostics: GradientDiagnostics | undefined;
}

/** What the trainer tells the transforms about the step in progress. */
export interface StepContext {
  readonly step: number;
  /** The step's loss statistics so far, LOSS_STATS_LENGTH values per task (kernels/types.ts). */
  readonly lossSums: Float64Array;
  /** Milliseconds spent combining gradients and on the checks before the optimizers. */
  readonly timing: { combine: number; optimizer: number };
  /** A non-finite loss or gradient: throws when the run stops on it, else records it and returns. */
  nonFinite(what: string): void;
}

export interface Transform {
  apply(g: StepGradients, ctx: StepContext): void;
}

/** Adds the time `run` takes to ctx.timing[part]. */
function timed(ctx: StepContext, part: 'combine' | 'optimizer', run: () => void): void {
  const started = performance.now();
  try {
    run();
  } finally {
    ctx.timing[part] += performance.now() - started;
  }
}

/** Per-task mean losses of the step so far (class-weighted as PyTorch's; 0 for a task without labelled rows). */
export function stepLosses(sums: Float64Array, out: Float64Array): Float64Array {
  for (let t = 0; t < out.length; t++) {
    const at = t * LOSS_STATS_LENGTH;
    const weight = sums[at + LOSS_WEIGHT];
    out[t] = weight > 0 ? sums[at + LOSS_SUM] / weight : 0;
  }
  return out;
}

export interface ClipSettings {
  max: number;
  /** 'task': each task's gradient before it is combined; 'global': each update an optimizer receives. */
  per: 'global' | 'task';
}

/**
 * Drops the step when a loss of the tasks involved or the gradient is not
 * finite, and clips the gradient's norm (torch.nn.utils.clip_grad_norm_'s rule)
 * when clipping applies at this level: each task gradient of the round
 * ('task'), or each update ('global').
 */
export function checkFinite(level: 'task' | 'global', clip: ClipSettings | null, names: readonly string[], kernels: Kernels): Transform {
  const check = (grad: Float32Array, tasks: readonly number[], ctx: StepContext): boolean => {
    const norm = kernels.norm(grad.length, grad);
    const sums = ctx.lossSums;
    const badLoss = tasks.find((t) => !Number.isFinite(sums[t * LOSS_STATS_LENGTH + LOSS_SUM]));
    if (badLoss !== undefined || !Number.isFinite(norm)) {
      ctx.nonFinite(badLoss !== undefined
        ? `task ${names[badLoss]}, step ${ctx.step}: the loss is ${sums[badLoss * LOSS_STATS_LENGTH + LOSS_SUM]}`
        : `task ${tasks.map((t) => names[t]).join('+')}, step ${ctx.step}: the gradient is not finite (norm ${norm})`);
      return false;
    }
    if (clip && clip.per === level) {
      const factor = clip.max / (norm + 1e-6); // torch.nn.utils.clip_grad_norm_'s rule
      if (factor < 1) kernels.scale(grad.length, factor, grad);
    }
    return true;
  };
  return {
    apply(g, ctx) {
      if (!g.ok) return;
      timed(ctx, 'optimizer', () => {
        g.ok = level === 'task'
          ? g.current.every((t) => check(g.tasks[t], [t], ctx))
          : g.updates.every((u) => check(u.grad, u.tasks, ctx));
      });
    },
  };
}

/** The fused plan's single gradient (of Σ w_t·L_t) for the one optimizer. */
export function summedLoss(gradient: Float32Array, tasks: number): Transform {
  const all = Array.from({ length: tasks }, (_, t) => t);
  return {
    apply(g) {
      g.updates = [{ optimizer: 0, grad: gradient, tasks: all }];
    },
  };
}

/** The T×T Gramian and diagnostics of the task gradients' shared parts. */
export class Diagnosis {
  private readonly gram: Float64Array;

  constructor(private readonly tasks: number, private readonly kernels: Kernels) {
    this.gram = new Float64Array(tasks * tasks);
  }

  /** From a Gramian already computed (`gram`), or computed here from the trunk views. */
  of(trunks: readonly Float32Array[], gram: Float64Array | undefined, update: Float32Array | null, weights: Float64Array | null): GradientDiagnostics {
    const G = gram ?? computeGram(this.kernels, trunks, this.gram);
    const combined = update ? { update, weights, grads: trunks, kernels: this.kernels } : undefined;
    const d = gradientDiagnostics(G, this.tasks, combined);
    if (!update && weights) d.weights = Array.from(weights);
    return d;
  }
}

/** Diagnostics of the task gradients when no earlier link gave any. */
export function diagnose(diagnosis: Diagnosis): Transform {
  return {
    apply(g) {
      if (g.ok && !g.diagnostics) g.diagnostics = diagnosis.of(g.trunks, undefined, null, null);
    },
  };
}

/** What a strategy needs besides the gradients: the step's losses, and GradNorm's last-shared-layer Gramian. */
export class StrategyInputs {
  private readonly losses: Float64Array;
  private readonly lastSharedGram: Float64Array | undefined;

  /** `lastShared`: per task, its gradient's view of the last shared layer (GradNorm), else undefined. */
  constructor(tasks: number, private readonly lastShared: readonly Float32Array[] | undefined, private readonly kernels: Kernels) {
    this.losses = new Float64Array(tasks);
    this.lastSharedGram = lastShared ? new Float64Array(tasks * tasks) : undefined;
  }

  of(ctx: StepContext): { losses: Float64Array; lastSharedGram?: Float64Array } {
    if (this.lastShared) computeGram(this.kernels, this.lastShared, this.lastSharedGram!);
    return { losses: stepLosses(ctx.lossSums, this.losses), lastSharedGram: this.lastSharedGram };
  }
}

/**
 * A gradient strategy's update for the one optimizer: the shared parameters get
 * the strategy's combination of the task gradients; each head gets its own
 * task's gradient (scaled by the task's weight for the loss weightings, whose
 * weight multiplies the whole task loss).
 */
export function combined(combiner: GradientCombiner, inputs: StrategyInputs, out: Float32Array, trunk: Segment,
  heads: readonly Segment[], diagnosis: Diagnosis, kernels: Kernels): Transform {
  const outTrunk = out.subarray(trunk.offset, trunk.offset + trunk.length);
  const all = heads.map((_, t) => t);
  return {
    apply(g, ctx) {
      if (!g.ok) return;
      timed(ctx, 'combine', () => {
        const result = combiner.combine(g.trunks, ctx.step, outTrunk, inputs.of(ctx));
        const weigh = combiner.strategy.kind === 'weighting' && result.weights;
        heads.forEach((head, t) => {
          const dst = out.subarray(head.offset, head.offset + head.length);
          dst.set(g.tasks[t].subarray(head.offset, head.offset + head.length));
          if (weigh) kernels.scale(head.length, result.weights![t], dst);
        });
        g.diagnostics = diagnosis.of(g.trunks, combiner.gram, result.update, result.weights);
      });
      g.updates = [{ optimizer: 0, grad: out, tasks: all }];
    },
  };
}

/** Each task's gradient of the round to its own optimizer (sequential). */
export function ownSteps(): Transform {
  return {
    apply(g) {
      g.updates = g.current.map((t) => ({ optimizer: t, grad: g.tasks[t], tasks: [t] }));
    },
  };
}

/**
 * A loss weighting composed with sequential steps: the weighting's task weights
 * scale each task's whole gradient. `scratch` receives the weighting's own
 * (unused) summed update.
 */
export class SequentialWeights {
  /** The weights the next `scaleByLast` uses (1 until the weighting has run once). */
  readonly last: Float64Array;

  constructor(private readonly combiner: GradientCombiner, private readonly inputs: StrategyInputs,
    private readonly scratch: Float32Array, private readonly diagnosis: Diagnosis, private readonly kernels: Kernels) {
    this.last = new Float64Array(combiner.tasks).fill(1);
  }

  private weights(g: StepGradients, ctx: StepContext): Float64Array {
    const result = this.combiner.combine(g.trunks, ctx.step, this.scratch, this.inputs.of(ctx));
    const weights = result.weights ?? new Float64Array(this.combiner.tasks).fill(1);
    g.diagnostics = this.diagnosis.of(g.trunks, this.combiner.gram, null, weights);
    return weights;
  }

  /** Weights of this step's gradients, applied to them at once (all tasks at one θ). */
  scaleNow(): Transform {
    return {
      apply: (g, ctx) => {
        if (!g.ok) return;
        timed(ctx, 'combine', () => {
          const weights = this.weights(g, ctx);
          g.tasks.forEach((grad, t) => this.kernels.scale(grad.length, weights[t], grad));
        });
      },
    };
  }

  /** Tasks in turn: each gradient scaled by the weights the previous step computed (later tasks' losses are not known yet). */
  scaleByLast(): Transform {
    return {
      apply: (g) => {
        for (const t of g.current) this.kernels.scale(g.tasks[t].length, this.last[t], g.tasks[t]);
      },
    };
  }

  /** Tasks in turn, once every task has stepped: the weights for the next step. */
  computeNext(): Transform {
    return {
      apply: (g, ctx) => {
        if (g.ok) timed(ctx, 'combine', () => this.last.set(this.weights(g, ctx)));
      },
    };
  }
}
