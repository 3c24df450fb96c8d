import { Rng } from '../util/rng.js';
import { UserError } from '../util/errors.js';
import { buildLayout, payloadOffset, type ParameterLayout, type Segment } from './layout.js';
import { mixtureStructure, type LinearRef } from './mixture-layout.js';
import type { ModelSpec } from './spec.js';
import { trunkOutputWidth } from './spec.js';

/** One linear layer's tensors: weight [out, in] row-major, bias [out]. */
export interface Linear {
  inWidth: number;
  outWidth: number;
  weight: Float32Array;
  bias: Float32Array;
}

export interface HeadTensors {
  hidden?: Linear;
  out: Linear;
}

/**
 * Typed views of the model's tensors over some flat buffer: the parameters, or a
 * gradient payload. Heads a payload does not cover are undefined.
 */
export interface ModelTensors {
  trunk: Linear[];
  heads: (HeadTensors | undefined)[];
  /** a mixture-of-experts model's tensors (its trunk is empty and its heads undefined) */
  mixture?: MixtureTensors;
}

/**
 * A mixture's tensors in the order of its structure (mixture-layout.ts); a
 * layer a payload does not cover is undefined.
 */
export interface MixtureTensors {
  /** [level][expert][layer] */
  experts: (Linear | undefined)[][][];
  /** [level][gate] */
  gates: (Linear | undefined)[][];
  /** [task][layer], the last one the output layer */
  towers: (Linear | undefined)[][];
}

/**
 * Views every tensor of `spec` inside `data`. Without `segments`, `data` uses the
 * parameter layout itself; with them, `data` holds those segments back to back
 * (a gradient payload). Made once and reused: views never move.
 */
export function viewTensors(spec: ModelSpec, layout: ParameterLayout, data: Float32Array,
  segments?: readonly Segment[]): ModelTensors {
  const at = (offset: number, size: number): Float32Array | undefined => {
    const start = segments ? payloadOffset(segments, offset) : offset;
    return start < 0 ? undefined : data.subarray(start, start + size);
  };
  if (spec.mixture) return { trunk: [], heads: spec.tasks.map(() => undefined), mixture: viewMixture(spec, layout, at) };
  let next = 0;
  const linear = (inWidth: number, outWidth: number): Linear | undefined => {
    const w = layout.entries[next++];
    const b = layout.entries[next++];
    const weight = at(w.offset, w.size);
    const bias = at(b.offset, b.size);
    return weight && bias ? { inWidth, outWidth, weight, bias } : undefined;
  };
  const trunk: Linear[] = [];
  let width = spec.inputWidth;
  for (const layer of spec.trunk) {
    const l = linear(width, layer.units);
    if (!l) throw new Error('a gradient payload must cover the whole trunk');
    trunk.push(l);
    width = layer.units;
  }
  const featureWidth = trunkOutputWidth(spec);
  const heads = spec.tasks.map((task): HeadTensors | undefined => {
    if (task.hidden) {
      const hidden = linear(featureWidth, task.hidden.units);
      const out = linear(task.hidden.units, task.outputs);
      return hidden && out ? { hidden, out } : undefined;
    }
    const out = linear(featureWidth, task.outputs);
    return out ? { out } : undefined;
  });
  return { trunk, heads };
}

/** A mixture's layers, found by name (its layout orders them by segment, not by structure). */
function viewMixture(spec: ModelSpec, layout: ParameterLayout,
  at: (offset: number, size: number) => Float32Array | undefined): MixtureTensors {
  const byName = new Map(layout.entries.map((e) => [e.name, e]));
  const linear = (ref: LinearRef): Linear | undefined => {
    const w = byName.get(`${ref.name}.weight`)!;
    const b = byName.get(`${ref.name}.bias`)!;
    const weight = at(w.offset, w.size);
    const bias = at(b.offset, b.size);
    return weight && bias ? { inWidth: ref.inWidth, outWidth: ref.outWidth, weight, bias } : undefined;
  };
  const s = mixtureStructure(spec);
  return {
    experts: s.levels.map((level) => level.experts.map((e) => e.layers.map(linear))),
    gates: s.levels.map((level) => level.gates.map((g) => linear(g.linear))),
    towers: s.towers.map((tower) => tower.map(linear)),
  };
}

/** What a worker thread needs to see the same parameters (shared, never copied). */
export interface ParameterHandle {
  buffer: SharedArrayBuffer;
  versionBuffer: SharedArrayBuffer;
}

/**
 * Every parameter in one Float32Array over a SharedArrayBuffer, with named views
 * in PyTorch's naming and layout, and a shared version counter that the
 * coordinator bumps after each write (workers stamp it into their frames).
 */
export class ParameterStore {
  readonly layout: ParameterLayout;
  readonly data: Float32Array;
  readonly tensors: ModelTensors;
  private readonly versionCell: Int32Array;
  private readonly handleData: ParameterHandle;

  private constructor(readonly spec: ModelSpec, handle: ParameterHandle) {
    this.layout = buildLayout(spec);
    if (handle.buffer.byteLength !== this.layout.total * 4) {
      throw new Error(`parameter buffer holds ${handle.buffer.byteLength / 4} floats, the model needs ${this.layout.total}`);
    }
    this.data = new Float32Array(handle.buffer);
    this.versionCell = new Int32Array(handle.versionBuffer);
    this.tensors = viewTensors(spec, this.layout, this.data);
    this.handleData = handle;
  }

  /** New parameters initialised like PyTorch's nn.Linear: U(−1/√fan_in, 1/√fan_in) for weight and bias. */
  static create(spec: ModelSpec, seed: number): ParameterStore {
    const layout = buildLayout(spec);
    const store = new ParameterStore(spec, {
      buffer: new SharedArrayBuffer(layout.total * 4),
      versionBuffer: new SharedArrayBuffer(4),
    });
    const rng = new Rng(seed, 0x1a17);
    // every layer in layout order, weight then bias (the layout lists each Linear's weight, then its bias)
    const data = store.data;
    for (let i = 0; i < layout.entries.length; i += 2) {
      const w = layout.entries[i];
      const bound = 1 / Math.sqrt(w.shape[1]);
      const end = layout.entries[i + 1].offset + layout.entries[i + 1].size;
      for (let j = w.offset; j < end; j++) data[j] = rng.uniform(-bound, bound);
    }
    return store;
  }

  /** The store another thread built, over the same shared memory. */
  static attach(spec: ModelSpec, handle: ParameterHandle): ParameterStore {
    return new ParameterStore(spec, handle);
  }

  handle(): ParameterHandle {
    return this.handleData;
  }

  get version(): number {
    return Atomics.load(this.versionCell, 0);
  }

  /** Called by the coordinator after every write to the parameters. */
  bumpVersion(): number {
    return Atomics.add(this.versionCell, 0, 1) + 1;
  }

  /** A copy of another process's parameters at its version (a cluster worker; no job may be reading). */
  replace(data: Float32Array, version: number): void {
    if (data.length !== this.data.length) throw new Error(`parameters of ${data.length} floats, the model has ${this.data.length}`);
    this.data.set(data);
    Atomics.store(this.versionCell, 0, version);
  }

  /** Named views (PyTorch state_dict names) into the live parameters. */
  named(): Record<string, Float32Array> {
    const out: Record<string, Float32Array> = {};
    for (const e of this.layout.entries) out[e.name] = this.data.subarray(e.offset, e.offset + e.size);
    return out;
  }

  /** Copies named tensors in; every name must exist with the same size. */
  load(named: Record<string, ArrayLike<number>>, source = 'parameters'): void {
    for (const [name, values] of Object.entries(named)) {
      const e = this.layout.entries.find((x) => x.name === name);
      if (!e) throw new UserError(`${source}: unknown tensor ${JSON.stringify(name)} (expected one of ${this.layout.entries.map((x) => x.name).join(', ')})`);
      if (values.length !== e.size) {
        throw new UserError(`${source}: tensor ${name} has ${values.length} values, expected ${e.size} (shape [${e.shape.join(', ')}])`);
      }
      this.data.set(values, e.offset);
    }
    this.bumpVersion();
  }
}
