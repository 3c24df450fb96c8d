/**
 * An optimizer for the trainer: an update rule (rule.ts) bound to the segments
 * it updates in the flat parameter vector, views cached once, and the state
 * format of checkpoints.
 */

import type { Segment } from '../model/layout.js';
import type { OptimizerName, ResolvedOptimizerConfig } from './config.js';
import { initState, type RuleState, type UpdateRule } from './rule.js';

export type { Segment };

/**
 * Plain, serializable optimizer state (msgpackr and structured clone carry
 * Float32Arrays as they are). Buffers are copies covering the optimizer's
 * segments back to back, in segment order.
 */
export interface OptimizerState {
  name: OptimizerName;
  /** Steps taken so far. */
  stepCount: number;
  /** Total elements of the segments (each buffer's length). */
  length: number;
  /** sgd with momentum > 0: { momentum }; sgd without: {}; adam/adamw: { m, v }. */
  buffers: Record<string, Float32Array>;
}

export interface Optimizer {
  /** The config with PyTorch's defaults filled in. */
  readonly config: ResolvedOptimizerConfig;
  /** The segments this optimizer updates. */
  readonly segments: readonly Segment[];
  /** Steps taken so far (PyTorch's `step` state, used by Adam's bias correction). */
  readonly stepCount: number;
  /**
   * Applies one step to params[seg] for every segment, using grad[seg] (grad has
   * the same layout as params). `lr` overrides config.lr for this step (schedules,
   * per-task rates). grad is only read. No allocation, unless params or grad is
   * a different array from the previous call (the segment views are then rebuilt).
   */
  step(params: Float32Array, grad: Float32Array, lr?: number): void;
  /** A copy of the state, for checkpoints. */
  state(): OptimizerState;
  /** Restores a state from `state()` of an optimizer with the same name and segment length. */
  loadState(s: OptimizerState): void;
  /** The state buffers themselves (not copies), by name, each covering the segments back to back. */
  readonly buffers: Readonly<Record<string, Float32Array>>;
  /** Counts `n` steps that others applied to this state (worker threads, slice by slice). */
  countSteps(n: number): void;
}

/** Checks segments: non-negative safe integers, not overlapping. Returns frozen copies. */
export function checkSegments(segments: readonly Segment[]): readonly Segment[] {
  const out = segments.map((s, i) => {
    if (!Number.isSafeInteger(s.offset) || s.offset < 0 || !Number.isSafeInteger(s.length) || s.length < 0) {
      throw new RangeError(`optimizer segment ${i}: offset ${s.offset}, length ${s.length}; expected non-negative integers`);
    }
    return Object.freeze({ offset: s.offset, length: s.length });
  });
  const sorted = [...out].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1];
    if (sorted[i].length > 0 && prev.offset + prev.length > sorted[i].offset) {
      throw new RangeError(
        `optimizer segments overlap: [${prev.offset}, ${prev.offset + prev.length}) and ` +
        `[${sorted[i].offset}, ${sorted[i].offset + sorted[i].length})`);
    }
  }
  return Object.freeze(out);
}

/** Per-segment subarray views of one array, rebuilt only when a different array comes in. */
export class SegmentViews {
  private source: Float32Array | null = null;
  private views: Float32Array[] = [];
  private readonly end: number;

  constructor(private readonly segments: readonly Segment[], private readonly what: string) {
    this.end = segments.reduce((e, s) => Math.max(e, s.offset + s.length), 0);
  }

  of(array: Float32Array): Float32Array[] {
    if (array !== this.source) {
      if (array.length < this.end) {
        throw new RangeError(`optimizer: ${this.what} has ${array.length} elements; the segments need ${this.end}`);
      }
      this.views = this.segments.map((s) => array.subarray(s.offset, s.offset + s.length));
      this.source = array;
    }
    return this.views;
  }
}

/**
 * An update rule bound to segments of the flat parameter vector, with its state:
 * each state buffer covers the segments back to back (the checkpoint format), and
 * every segment takes the same step number within one optimizer step.
 */
export class SegmentOptimizer implements Optimizer {
  readonly segments: readonly Segment[];
  readonly length: number;
  private readonly state_: RuleState;
  private readonly paramViews: SegmentViews;
  private readonly gradViews: SegmentViews;
  /** per segment: its views of the state buffers */
  private readonly bufferViews: Record<string, Float32Array>[];

  /**
   * `allocate` makes the state buffers (default: plain Float32Arrays); shared
   * ones let worker threads update slices of the state in place (see
   * sharedBuffers and countSteps).
   */
  constructor(readonly config: ResolvedOptimizerConfig, private readonly rule: UpdateRule, segments: readonly Segment[],
    allocate: (n: number) => Float32Array = (n) => new Float32Array(n)) {
    this.segments = checkSegments(segments);
    this.length = this.segments.reduce((n, s) => n + s.length, 0);
    this.paramViews = new SegmentViews(this.segments, 'the parameter array');
    this.gradViews = new SegmentViews(this.segments, 'the gradient array');
    this.state_ = initState(rule, this.length, allocate);
    let at = 0;
    this.bufferViews = this.segments.map((s) => {
      const views: Record<string, Float32Array> = {};
      for (const [name, buf] of Object.entries(this.state_.buffers)) views[name] = buf.subarray(at, at + s.length);
      at += s.length;
      return views;
    });
  }

  get stepCount(): number {
    return this.state_.stepCount;
  }

  step(params: Float32Array, grad: Float32Array, lr?: number): void {
    const rate = this.resolveLr(lr);
    const p = this.paramViews.of(params);
    const g = this.gradViews.of(grad);
    const step = this.state_.stepCount + 1;
    for (let i = 0; i < p.length; i++) this.rule.update(p[i], g[i], this.bufferViews[i], step, rate);
    this.state_.stepCount = step;
  }

  /** The state buffers themselves (not copies), by name: for threads that update slices of them in place. */
  get buffers(): Readonly<Record<string, Float32Array>> {
    return this.state_.buffers;
  }

  /** Counts `n` steps that others applied to this state (worker threads, slice by slice). */
  countSteps(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`optimizer: cannot count ${n} steps`);
    this.state_.stepCount += n;
  }

  private resolveLr(lr: number | undefined): number {
    if (lr === undefined) return this.config.lr;
    if (typeof lr !== 'number' || !Number.isFinite(lr) || lr < 0) {
      throw new RangeError(`optimizer ${this.config.name}: learning rate ${lr}; expected a finite number >= 0`);
    }
    return lr;
  }

  state(): OptimizerState {
    const buffers: Record<string, Float32Array> = {};
    for (const [k, b] of Object.entries(this.state_.buffers)) buffers[k] = b.slice();
    return { name: this.config.name, stepCount: this.state_.stepCount, length: this.length, buffers };
  }

  loadState(s: OptimizerState): void {
    const bad = (what: string): never => {
      throw new Error(`optimizer ${this.config.name}: cannot load state: ${what}`);
    };
    if (typeof s !== 'object' || s === null) bad(`expected an object, got ${String(s)}`);
    if (s.name !== this.config.name) bad(`it is ${String(s.name)} state`);
    if (!Number.isSafeInteger(s.stepCount) || s.stepCount < 0) bad(`stepCount ${String(s.stepCount)}`);
    if (s.length !== this.length) bad(`it covers ${String(s.length)} elements, this optimizer ${this.length}`);
    const have = Object.keys(this.state_.buffers).sort().join(',');
    const given = Object.keys(s.buffers ?? {}).sort().join(',');
    if (have !== given) bad(`buffers {${given}}, expected {${have}}`);
    for (const [k, b] of Object.entries(s.buffers)) {
      if (!(b instanceof Float32Array) || b.length !== this.length) {
        bad(`buffer ${k} is not a Float32Array of length ${this.length}`);
      }
    }
    for (const [k, b] of Object.entries(s.buffers)) this.state_.buffers[k].set(b);
    this.state_.stepCount = s.stepCount;
  }
}
