/**
 * The strategy interface, in the spirit of optax's gradient transformations: a
 * strategy is a small module with `init` (its state) and `combine` (per-task
 * gradients of the shared parameters and their Gramian → one update and the new
 * state). Every strategy is a pure function of (gradients, Gramian, losses,
 * state, rng): it never modifies its inputs, never keeps hidden state between
 * calls, and draws randomness only from the `rng` it is handed.
 *
 * Only the shared (trunk) parameters go through a strategy; each head gets its
 * own task's gradient directly.
 */

import type { Kernels } from '../kernels/types.js';
import type { Rng } from '../util/rng.js';

export interface CombineInput {
  /** T task gradients of the shared parameters, n elements each. Never modified. */
  grads: readonly Float32Array[];
  /**
   * The T×T Gramian G[i·T + j] = g_i·g_j in float64, computed once per step by
   * `computeGram` and shared with the diagnostics.
   */
  gram: Float64Array;
  /** Per-task batch losses, for the loss-weighting strategies (uncertainty, dwa, gradnorm). */
  losses?: Float64Array;
  /**
   * GradNorm only: the T×T Gramian of the task gradients restricted to the last
   * shared layer's parameters (only its diagonal is read). Without it GradNorm
   * uses `gram`'s diagonal, i.e. the norms over every shared parameter.
   */
  lastSharedGram?: Float64Array;
  /** 0-based optimisation step. */
  step: number;
  /** Seeded for this step by the caller (`strategyRng(seed, step)`): the only randomness allowed. */
  rng: Rng;
  kernels: Kernels;
}

export interface CombineResult<S> {
  /** The combined update: the `out` buffer passed to `combine`, first n elements written. */
  update: Float32Array;
  /**
   * Task weights w when update = Σ w_i·g_i (diagnostics, sequential composition);
   * null when the update is not a combination of the task gradients (GradDrop).
   * A fresh array the caller may keep.
   */
  weights: Float64Array | null;
  /** The new state: plain serializable data (numbers, arrays, Float64Arrays). */
  state: S;
}

/** A strategy option: a number or a list of numbers (e.g. `fixed`'s weights). */
export type OptionValue = number | readonly number[];
export type StrategyOptions = Record<string, OptionValue>;

/** How an option is checked (see options.ts). Bounds are inclusive (min, max) or exclusive (above, below). */
export interface OptionSpec {
  type: 'number' | 'integer' | 'numbers';
  doc: string;
  min?: number;
  max?: number;
  above?: number;
  below?: number;
}

export interface GradientStrategy<S = unknown, O extends StrategyOptions = StrategyOptions> {
  /** Registry name, e.g. 'pcgrad'. */
  name: string;
  /** One line: what it does. */
  summary: string;
  /** One line: the paper (authors, venue, year). */
  citation: string;
  /** The scale convention, one line (README table), e.g. "sum: Σ g_i when no pair conflicts". */
  scale: string;
  /**
   * 'combination': finds the update from the gradients (PCGrad, MGDA, ...);
   * 'weighting': task weights from losses/state, then the weighted sum — composes
   * with `sum` and with `sequential` (scale each task's step by its weight).
   */
  kind: 'combination' | 'weighting';
  /** True when only the Gramian and one final weighted sum touch the gradients. */
  gramOnly: boolean;
  /** True when it draws from `rng`. */
  seeded: boolean;
  /** True when it needs `CombineInput.losses`. */
  needsLosses: boolean;
  /** Options with their default values. */
  defaults: O;
  /** How each option is validated (same keys as `defaults`). */
  options: { readonly [K in keyof O]: OptionSpec };
  /** The initial state for `tasks` tasks of `length` shared parameters (UserError on options that do not fit). */
  init(tasks: number, length: number, options: O): S;
  /**
   * Writes the update into out[0..n) and returns it with the task weights and the
   * new state. `state` is not modified. `out` must not overlap any gradient.
   */
  combine(input: CombineInput, state: S, options: O, out: Float32Array): CombineResult<S>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyStrategy = GradientStrategy<any, any>;
