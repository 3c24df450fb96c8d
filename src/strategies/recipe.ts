/**
 * The step recipe: what every strategy is, for the trainer. A recipe says
 *
 * - which gradients a step needs: `fused` (one gradient of Σ w_t·L_t),
 *   `per-task` (every task's own gradient at one θ) or `in-turn` (task t's
 *   gradient at the θ task t−1's step left: one round per task);
 * - which optimizer states there are: `shared` (one for every parameter) or
 *   `per-task` (task t's: the trunk and its head, with its own learning rate);
 * - the chain of transforms (transforms.ts) that turns each round's gradients
 *   into updates for those optimizers, and the chain that ends a step.
 *
 * `sum`, `sequential` fresh and stale, every combination method and every loss
 * weighting are instances; a weighting with `sequential` and gradient clipping
 * are links in the chain, not branches in the trainer. The trainer is then the
 * loop: sample, run the jobs a round needs, `round`, apply the updates, `end`.
 */

import type { Kernels } from '../kernels/types.js';
import type { ParameterLayout } from '../model/layout.js';
import { UserError } from '../util/errors.js';
import { gradientDiagnostics, type GradientDiagnostics } from './diagnostics.js';
import { GradientCombiner } from './index.js';
import type { StrategyOptions } from './types.js';
import {
  checkFinite, combined, diagnose, Diagnosis, ownSteps, SequentialWeights, StrategyInputs, summedLoss,
  type ClipSettings, type StepContext, type StepGradients, type Transform, type Update,
} from './transforms.js';

export type { ClipSettings, StepContext, Update } from './transforms.js';

/** The strategy part of a run's config. */
export interface RecipeSettings {
  /** 'sum', 'sequential', or a registered strategy. */
  strategy: string;
  /** The options of the strategy (or of the weighting composed with sequential), validated. */
  strategyOptions: StrategyOptions;
  /** With 'sequential': a loss weighting scaling each task's step. */
  weighting: string | null;
  sequentialMode: 'fresh' | 'stale';
  /** 'auto' picks fused whenever it computes the same update ('fused' with 'sum' only: the config checks it). */
  plan: 'auto' | 'fused' | 'per-task';
  clip: ClipSettings | null;
  /** Seeds the strategies' randomness. */
  seed: number;
}

/** The model as the recipe sees it: task names and the parameter layout. */
export interface RecipeModel {
  tasks: readonly string[];
  layout: ParameterLayout;
  /** Trunk layers (GradNorm reads the last one's gradient). */
  trunkLayers: number;
}

export type GradientsNeeded = 'fused' | 'per-task' | 'in-turn';

/** Where the task gradients are: the reduced frames the trainer's shard jobs fill. */
export interface GradientBuffers {
  /** Per task, its whole-vector gradient (per-task and in-turn plans). */
  tasks: readonly Float32Array[];
  /** The fused plan's gradient of Σ w_t·L_t. */
  fused?: Float32Array;
}

const EMPTY = new Float32Array(0);

/** The plain data a checkpoint keeps of a recipe (unchanged since checkpoint format 1). */
type SavedState = { state: unknown; sequentialWeights: number[] } | null;

export class StepRecipe {
  readonly gradients: GradientsNeeded;
  readonly optimizers: 'shared' | 'per-task';
  /** The strategy bound to this run (or sequential's weighting); undefined for sum and plain sequential. */
  readonly combiner: GradientCombiner | undefined;
  private weights: SequentialWeights | undefined;
  private readonly allTasks: readonly number[];
  private chain: Transform[] = [];
  private endChain: Transform[] = [];
  private step: StepGradients | undefined;

  private constructor(private readonly settings: RecipeSettings, private readonly model: RecipeModel, private readonly kernels: Kernels) {
    const { strategy, weighting, sequentialMode, plan, clip } = settings;
    const sequential = strategy === 'sequential';
    const fused = strategy === 'sum' && (plan === 'fused' || (plan === 'auto' && clip?.per !== 'task'));
    this.gradients = fused ? 'fused' : sequential && sequentialMode === 'fresh' ? 'in-turn' : 'per-task';
    this.optimizers = sequential ? 'per-task' : 'shared';
    // fused, the sum needs no strategy: its one gradient is already the update
    const name = weighting ?? (sequential || fused ? undefined : strategy);
    const T = model.tasks.length;
    this.combiner = name === undefined ? undefined : new GradientCombiner(name, T, model.layout.trunk.length,
      { seed: settings.seed, options: settings.strategyOptions, kernels });
    this.allTasks = model.tasks.map((_, t) => t);
  }

  /** The recipe of a run's strategy settings (validated by the config schema), for a model. */
  static for(settings: RecipeSettings, model: RecipeModel, kernels: Kernels): StepRecipe {
    return new StepRecipe(settings, model, kernels);
  }

  /**
   * Whether worker threads may take this recipe's steps themselves, slice by
   * slice of the parameter vector (src/protocol/step-loop.ts), with the same
   * arithmetic element by element: `fused` for sum on the fused plan; `per-task`
   * for one optimizer on a combination whose weights come from the Gramian
   * alone, keeps no state and reads no losses (pcgrad, mgda, upgrad, sum, ...);
   * `sequential` (fresh or stale) without a loss weighting; never with
   * clipping (it needs whole-vector norms). Undefined otherwise.
   */
  get threadSteps(): 'fused' | 'per-task' | 'sequential' | undefined {
    if (this.settings.clip !== null) return undefined;
    if (this.gradients === 'fused') return 'fused';
    // sequential without a loss weighting: each task's gradient to its own optimizer, element by element
    if (this.settings.strategy === 'sequential') return this.combiner ? undefined : 'sequential';
    const c = this.combiner;
    const sliceable = this.gradients === 'per-task' && this.optimizers === 'shared' && c !== undefined
      && c.strategy.gramOnly && !c.strategy.needsLosses && c.state === null;
    return sliceable ? 'per-task' : undefined;
  }

  /**
   * The gradient diagnostics of a step from its Gramian and the strategy's
   * weights (as `combined` reports them), or without weights (sequential, as
   * `diagnose` reports them).
   */
  diagnosticsOf(gram: Float64Array, weights: Float64Array | null): GradientDiagnostics {
    return gradientDiagnostics(gram, this.model.tasks.length, weights ? { update: EMPTY, weights } : undefined);
  }

  /** Rounds of gradient jobs per step: one, or one per task in turn. */
  get rounds(): number {
    return this.gradients === 'in-turn' ? this.model.tasks.length : 1;
  }

  /** Builds the chains over the trainer's gradient buffers (once, before the first step). */
  bind(buffers: GradientBuffers): void {
    const { layout, tasks: names } = this.model;
    const kernels = this.kernels;
    const T = names.length;
    const { offset, length } = layout.trunk;
    this.step = {
      tasks: buffers.tasks,
      trunks: buffers.tasks.map((g) => g.subarray(offset, offset + length)),
      current: [],
      updates: [],
      ok: true,
      diagnostics: undefined,
    };
    const clip = this.settings.clip;
    const taskCheck = checkFinite('task', clip, names, kernels);
    const updateCheck = checkFinite('global', clip, names, kernels);
    const diagnosis = new Diagnosis(T, kernels);
    const combiner = this.combiner;
    const inputs = combiner && new StrategyInputs(T, this.lastSharedViews(buffers.tasks), kernels);
    const weights = combiner && this.settings.strategy === 'sequential'
      ? new SequentialWeights(combiner, inputs!, new Float32Array(length), diagnosis, kernels) : undefined;
    this.weights = weights;
    const update = () => new Float32Array(layout.total);
    switch (this.gradients) {
      case 'fused':
        this.chain = [summedLoss(buffers.fused!, T), updateCheck];
        break;
      case 'in-turn':
        this.chain = [...(weights ? [weights.scaleByLast()] : []), taskCheck, ownSteps(), updateCheck];
        this.endChain = [weights ? weights.computeNext() : diagnose(diagnosis)];
        break;
      case 'per-task':
        if (this.optimizers === 'per-task') {
          this.chain = [taskCheck, ...(weights ? [weights.scaleNow()] : []), ownSteps(), updateCheck, diagnose(diagnosis)];
        } else {
          this.chain = [taskCheck, combined(combiner!, inputs!, update(), layout.trunk, layout.heads, diagnosis, kernels), updateCheck];
        }
    }
  }

  /** GradNorm's views of the last shared layer (weight and bias) in each task gradient. */
  private lastSharedViews(tasks: readonly Float32Array[]): Float32Array[] | undefined {
    if (this.combiner?.strategy.name !== 'gradnorm') return undefined;
    const prefix = `trunk.${this.model.trunkLayers - 1}.`;
    const last = this.model.layout.entries.filter((e) => e.name.startsWith(prefix));
    if (last.length !== 2) return undefined;
    const from = last[0].offset;
    const to = last[1].offset + last[1].size;
    return tasks.map((g) => g.subarray(from, to));
  }

  /** Starts a step: no updates, no diagnostics yet. */
  begin(): void {
    const g = this.bound();
    g.ok = true;
    g.diagnostics = undefined;
    g.updates = [];
  }

  /**
   * Round `r`'s gradients (every task's, or task r's in turn) → the updates for
   * the optimizers, in order; null when the step is dropped (a non-finite value
   * under onNonFinite 'skip'; rounds already applied stay applied).
   */
  round(r: number, ctx: StepContext): readonly Update[] | null {
    const g = this.bound();
    g.current = this.gradients === 'in-turn' ? [r] : this.allTasks;
    for (const link of this.chain) link.apply(g, ctx);
    return g.ok ? g.updates : null;
  }

  /** Ends a step whose rounds were all applied; returns its gradient diagnostics (none for the fused plan). */
  end(ctx: StepContext): GradientDiagnostics | undefined {
    const g = this.bound();
    g.current = this.allTasks;
    for (const link of this.endChain) link.apply(g, ctx);
    return g.diagnostics;
  }

  private bound(): StepGradients {
    if (!this.step) throw new Error('StepRecipe: bind() the gradient buffers before the first step');
    return this.step;
  }

  /** Plain data for checkpoints: the strategy's state and sequential's last weights (null when there are neither). */
  state(): SavedState {
    if (!this.combiner || (this.combiner.state === null && !this.weights)) return null;
    return { state: this.combiner.state, sequentialWeights: Array.from(this.weights?.last ?? new Float64Array(this.model.tasks.length).fill(1)) };
  }

  restore(saved: unknown, source: string): void {
    if (!this.combiner) return;
    const s = saved as SavedState;
    if (s === null && this.combiner.state === null && !this.weights) return; // stateless, as saved
    if (!s || !Array.isArray(s.sequentialWeights) || s.sequentialWeights.length !== this.model.tasks.length) {
      throw new UserError(`${source}: holds no state for strategy ${this.combiner.strategy.name}`);
    }
    this.combiner.state = s.state;
    this.weights?.last.set(s.sequentialWeights);
  }
}
