/*
 * src/strategies/: the step recipe every strategy is (recipe.ts), its transforms,
 * and one file per gradient combination or loss weighting, with their registry.
 * May import: util, kernels, model, optim.
 */
/**
 * Multi-task gradient strategies: the registry, option parsing, a stateful
 * wrapper for the trainer (`GradientCombiner`) and the standalone API
 * (`combineGradients`). See types.ts for the interface and each module for its
 * method, paper and scale convention.
 */

import { getKernels } from '../kernels/index.js';
import type { Kernels } from '../kernels/types.js';
import { UserError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { alignedMtl } from './aligned-mtl.js';
import { cagrad } from './cagrad.js';
import { dualproj } from './dualproj.js';
import { dwa } from './dwa.js';
import { fairgrad } from './fairgrad.js';
import { fixed } from './fixed.js';
import { computeGram } from './gram.js';
import { graddrop } from './graddrop.js';
import { gradnorm } from './gradnorm.js';
import { gradvac } from './gradvac.js';
import { imtlg } from './imtlg.js';
import { mean } from './mean.js';
import { mgda } from './mgda.js';
import { nashmtl } from './nashmtl.js';
import { resolveOptions } from './options.js';
import { pcgrad } from './pcgrad.js';
import { rlw } from './rlw.js';
import { sum } from './sum.js';
import type { AnyStrategy, CombineResult, StrategyOptions } from './types.js';
import { uncertainty } from './uncertainty.js';
import { upgrad } from './upgrad.js';

export type {
  AnyStrategy, CombineInput, CombineResult, GradientStrategy, OptionSpec, OptionValue, StrategyOptions,
} from './types.js';
export { checkOut, computeGram, weightedSum } from './gram.js';
export { describeSpec } from './options.js';
export {
  averageDiagnostics, formatConflict, formatSigned, gradientDiagnostics,
  type CombinedUpdate, type GradientDiagnostics,
} from './diagnostics.js';

/** Every strategy by name: gradient combinations first, then loss weightings. */
export const strategies = {
  sum,
  mean,
  pcgrad,
  mgda,
  cagrad,
  imtlg,
  aligned_mtl: alignedMtl,
  upgrad,
  dualproj,
  gradvac,
  graddrop,
  nashmtl,
  fairgrad,
  fixed,
  uncertainty,
  dwa,
  rlw,
  gradnorm,
} as const satisfies Record<string, AnyStrategy>;

export type GradientStrategyName = keyof typeof strategies;

/** The registered strategy names, in registry order. */
export function strategyNames(): string[] {
  return Object.keys(strategies);
}

/** The strategy called `name`; UserError listing the names for an unknown one. */
export function getStrategy(name: string): AnyStrategy {
  if (typeof name !== 'string' || !Object.hasOwn(strategies, name)) {
    throw new UserError(`unknown strategy ${JSON.stringify(name)}; expected one of ${strategyNames().join(', ')}`);
  }
  return strategies[name as GradientStrategyName];
}

/**
 * The options of strategy `name` with defaults filled in, from user input (numbers,
 * or strings holding them; "1,2,3" for lists). UserError naming the option for an
 * unknown option or a value out of range.
 */
export function parseStrategyOptions(name: string, raw: Record<string, unknown> = {}): StrategyOptions {
  return resolveOptions(getStrategy(name), raw);
}

/** Stream id of the strategies' Rng: `new Rng(seed, STRATEGY_STREAM, step)`. */
export const STRATEGY_STREAM = 0x57a7;

/** The Rng a strategy gets at `step` of a run seeded with `seed`. */
export function strategyRng(seed: number, step: number): Rng {
  return new Rng(seed, STRATEGY_STREAM, step);
}

export interface CombinerInit {
  /** Run seed (default 0). */
  seed?: number;
  /** Strategy options (validated; defaults filled in). */
  options?: Record<string, unknown>;
  /** Default: getKernels(). */
  kernels?: Kernels;
  /** A state to resume from (e.g. read from a checkpoint); default: the strategy's init. */
  state?: unknown;
}

/**
 * A strategy bound to a run: its options, its state between steps, and the Gramian
 * buffer (T² float64, reused every step). The trainer's per-step call; allocates
 * nothing proportional to the number of parameters.
 */
export class GradientCombiner {
  readonly strategy: AnyStrategy;
  readonly options: StrategyOptions;
  readonly tasks: number;
  readonly length: number;
  readonly seed: number;
  readonly kernels: Kernels;
  /** The Gramian of the last `combine` call (T×T), for diagnostics. */
  readonly gram: Float64Array;
  /** The strategy state (plain data; checkpoint it, pass it back as `init.state` to resume). */
  state: unknown;

  constructor(name: string, tasks: number, length: number, init: CombinerInit = {}) {
    if (!Number.isSafeInteger(tasks) || tasks < 1) throw new UserError(`strategy ${name}: needs at least one task, got ${tasks}`);
    this.strategy = getStrategy(name);
    this.options = resolveOptions(this.strategy, init.options);
    this.tasks = tasks;
    this.length = length;
    this.seed = init.seed ?? 0;
    this.kernels = init.kernels ?? getKernels();
    this.gram = new Float64Array(tasks * tasks);
    this.state = init.state !== undefined ? init.state : this.strategy.init(tasks, length, this.options);
  }

  /** One step: G, then the strategy; out receives the update. The state advances. */
  combine(grads: readonly Float32Array[], step: number, out: Float32Array,
    extra: { losses?: Float64Array; lastSharedGram?: Float64Array } = {}): CombineResult<unknown> {
    if (grads.length !== this.tasks) throw new RangeError(`expected ${this.tasks} task gradients, got ${grads.length}`);
    for (let i = 0; i < grads.length; i++) {
      if (grads[i].length !== this.length) {
        throw new RangeError(`task ${i}'s gradient has ${grads[i].length} elements, expected ${this.length}`);
      }
    }
    computeGram(this.kernels, grads, this.gram);
    const result = this.strategy.combine({
      grads, gram: this.gram, losses: extra.losses, lastSharedGram: extra.lastSharedGram, step,
      rng: strategyRng(this.seed, step), kernels: this.kernels,
    }, this.state, this.options, out);
    this.state = result.state;
    return result;
  }
}

/** Options of `combineGradients`: the step's context, then the strategy's own options. */
export interface CombineGradientsOptions {
  /** Seed of the seeded strategies (pcgrad, gradvac, graddrop, rlw); default 0. */
  seed?: number;
  /** Step number, 0-based (default 0): with the seed, picks the step's randomness. */
  step?: number;
  /** Strategy state from an earlier step (default: a fresh state). */
  state?: unknown;
  /** Per-task losses (uncertainty, dwa, gradnorm). */
  losses?: ArrayLike<number>;
  /** GradNorm: T×T Gramian over the last shared layer. */
  lastSharedGram?: ArrayLike<number>;
  /** Strategy options, e.g. `c: 0.4` for cagrad. */
  [option: string]: unknown;
}

function checkCount(what: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
    throw new UserError(`combineGradients: option "${what}" is ${String(v)}; expected an integer ≥ ${min}`);
  }
  return v;
}

function toFloat64(what: string, v: unknown, length: number): Float64Array {
  if (v === null || typeof v !== 'object' || typeof (v as ArrayLike<number>).length !== 'number'
    || (v as ArrayLike<number>).length !== length) {
    throw new UserError(`combineGradients: option "${what}" must be a list of ${length} numbers`);
  }
  const out = Float64Array.from(v as ArrayLike<number>);
  if (out.some((x) => Number.isNaN(x))) throw new UserError(`combineGradients: option "${what}" holds a non-number`);
  return out;
}

/**
 * Combines per-task gradients (equal-length Float32Arrays, one per task) with the
 * named strategy and returns the update as a new Float32Array. The same code as
 * the trainer; kernels from getKernels(). UserError for an unknown strategy (the
 * message lists them), no or unequal gradients, and bad options.
 *
 *   combineGradients('pcgrad', [g1, g2], { seed: 1 })
 *   combineGradients('cagrad', [g1, g2, g3], { c: 0.5 })
 */
export function combineGradients(name: string, grads: readonly Float32Array[],
  options: CombineGradientsOptions = {}): Float32Array {
  const strategy = getStrategy(name);
  if (!Array.isArray(grads) || grads.length === 0) {
    throw new UserError('combineGradients: needs at least one task gradient (an array of Float32Arrays)');
  }
  grads.forEach((g, i) => {
    if (!(g instanceof Float32Array)) throw new UserError(`combineGradients: gradient ${i} is not a Float32Array`);
  });
  const n = grads[0].length;
  grads.forEach((g, i) => {
    if (g.length !== n) {
      throw new UserError(`combineGradients: gradient ${i} has ${g.length} elements but gradient 0 has ${n}; `
        + 'all task gradients must have the same length');
    }
  });
  const { seed = 0, step = 0, state, losses, lastSharedGram, ...rest } = options;
  const T = grads.length;
  const combiner = new GradientCombiner(strategy.name, T, n, {
    seed: checkCount('seed', seed, 0),
    options: rest,
    state,
  });
  const extra = {
    losses: losses === undefined ? undefined : toFloat64('losses', losses, T),
    lastSharedGram: lastSharedGram === undefined ? undefined : toFloat64('lastSharedGram', lastSharedGram, T * T),
  };
  const out = new Float32Array(n);
  combiner.combine(grads, checkCount('step', step, 0), out, extra);
  return out;
}
