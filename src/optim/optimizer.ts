/**
 * What every optimizer shares: the segments it updates in the flat parameter
 * vector, views cached once, and the state format.
 */

import type { Kernels } from '../kernels/types.js';
import type { Segment } from '../model/layout.js';
import type { OptimizerName, ResolvedOptimizerConfig } from './config.js';

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

/** The shared part of the optimizers: segments, view caches, state buffers, state(). */
export abstract class SegmentOptimizer implements Optimizer {
  readonly segments: readonly Segment[];
  readonly length: number;
  protected steps = 0;
  protected readonly paramViews: SegmentViews;
  protected readonly gradViews: SegmentViews;
  /** Whole state buffers by name, each `length` long. */
  protected readonly buffers: Record<string, Float32Array> = {};

  constructor(readonly config: ResolvedOptimizerConfig, segments: readonly Segment[], protected readonly kernels: Kernels) {
    this.segments = checkSegments(segments);
    this.length = this.segments.reduce((n, s) => n + s.length, 0);
    this.paramViews = new SegmentViews(this.segments, 'the parameter array');
    this.gradViews = new SegmentViews(this.segments, 'the gradient array');
  }

  get stepCount(): number {
    return this.steps;
  }

  /** Allocates a state buffer (zeros) and returns its per-segment views. */
  protected addBuffer(name: string): Float32Array[] {
    const buf = new Float32Array(this.length);
    this.buffers[name] = buf;
    let at = 0;
    return this.segments.map((s) => {
      const v = buf.subarray(at, at + s.length);
      at += s.length;
      return v;
    });
  }

  protected resolveLr(lr: number | undefined): number {
    if (lr === undefined) return this.config.lr;
    if (typeof lr !== 'number' || !Number.isFinite(lr) || lr < 0) {
      throw new RangeError(`optimizer ${this.config.name}: learning rate ${lr}; expected a finite number >= 0`);
    }
    return lr;
  }

  abstract step(params: Float32Array, grad: Float32Array, lr?: number): void;

  state(): OptimizerState {
    const buffers: Record<string, Float32Array> = {};
    for (const [k, b] of Object.entries(this.buffers)) buffers[k] = b.slice();
    return { name: this.config.name, stepCount: this.steps, length: this.length, buffers };
  }

  loadState(s: OptimizerState): void {
    const bad = (what: string): never => {
      throw new Error(`optimizer ${this.config.name}: cannot load state: ${what}`);
    };
    if (typeof s !== 'object' || s === null) bad(`expected an object, got ${String(s)}`);
    if (s.name !== this.config.name) bad(`it is ${String(s.name)} state`);
    if (!Number.isSafeInteger(s.stepCount) || s.stepCount < 0) bad(`stepCount ${String(s.stepCount)}`);
    if (s.length !== this.length) bad(`it covers ${String(s.length)} elements, this optimizer ${this.length}`);
    const have = Object.keys(this.buffers).sort().join(',');
    const given = Object.keys(s.buffers ?? {}).sort().join(',');
    if (have !== given) bad(`buffers {${given}}, expected {${have}}`);
    for (const [k, b] of Object.entries(s.buffers)) {
      if (!(b instanceof Float32Array) || b.length !== this.length) {
        bad(`buffer ${k} is not a Float32Array of length ${this.length}`);
      }
    }
    for (const [k, b] of Object.entries(s.buffers)) this.buffers[k].set(b);
    this.steps = s.stepCount;
  }
}
