import { mixtureLinears, mixtureStructure } from './mixture-layout.js';
import type { ModelSpec } from './spec.js';
import { trunkOutputWidth } from './spec.js';

/** One named tensor in the flat parameter vector, PyTorch's name and shape ([out, in] for weights). */
export interface TensorEntry {
  name: string;
  shape: number[];
  offset: number;
  size: number;
}

/** A contiguous range of the flat parameter vector. */
export interface Segment {
  offset: number;
  length: number;
}

/** Where each linear layer's weight and bias sit, and the ranges the trunk and each head own. */
export interface ParameterLayout {
  entries: TensorEntry[];
  total: number;
  /** The shared parameters, first in the vector: every trunk layer (a mixture: see mixture-layout.ts). */
  trunk: Segment;
  /** heads[t]: task t's own parameters, contiguous (a mixture: the task's tower, last gates and experts). */
  heads: Segment[];
}

/**
 * Lays the parameters out trunk first, then each head in task order. Names follow
 * a PyTorch module with `trunk = ModuleList([Linear...])` and
 * `heads = ModuleDict({task: Linear})` (or, with a hidden layer, a module with
 * `hidden` and `out` Linears), so weights load with `load_state_dict`.
 */
export function buildLayout(spec: ModelSpec): ParameterLayout {
  const entries: TensorEntry[] = [];
  let offset = 0;
  const linear = (prefix: string, inWidth: number, outWidth: number) => {
    entries.push({ name: `${prefix}.weight`, shape: [outWidth, inWidth], offset, size: outWidth * inWidth });
    offset += outWidth * inWidth;
    entries.push({ name: `${prefix}.bias`, shape: [outWidth], offset, size: outWidth });
    offset += outWidth;
  };
  if (spec.mixture) {
    // the shared segment first, then each task's, each in the model's natural order
    const linears = mixtureLinears(mixtureStructure(spec));
    const segment = (owner: number): Segment => {
      const start = offset;
      for (const l of linears) if (l.owner === owner) linear(l.linear.name, l.linear.inWidth, l.linear.outWidth);
      return { offset: start, length: offset - start };
    };
    const trunk = segment(-1);
    const heads = spec.tasks.map((_, t) => segment(t));
    return { entries, total: offset, trunk, heads };
  }
  let width = spec.inputWidth;
  spec.trunk.forEach((layer, i) => {
    linear(`trunk.${i}`, width, layer.units);
    width = layer.units;
  });
  const trunk = { offset: 0, length: offset };
  const featureWidth = trunkOutputWidth(spec);
  const heads = spec.tasks.map((task) => {
    const start = offset;
    if (task.hidden) {
      linear(`heads.${task.name}.hidden`, featureWidth, task.hidden.units);
      linear(`heads.${task.name}.out`, task.hidden.units, task.outputs);
    } else {
      linear(`heads.${task.name}`, featureWidth, task.outputs);
    }
    return { offset: start, length: offset - start };
  });
  return { entries, total: offset, trunk, heads };
}

/** Total length of a list of segments. */
export function segmentsLength(segments: readonly Segment[]): number {
  let n = 0;
  for (const s of segments) n += s.length;
  return n;
}

/**
 * Maps a parameter offset to its position in a payload that holds `segments`
 * back to back; -1 when the offset is not covered.
 */
export function payloadOffset(segments: readonly Segment[], offset: number): number {
  let base = 0;
  for (const s of segments) {
    if (offset >= s.offset && offset < s.offset + s.length) return base + offset - s.offset;
    base += s.length;
  }
  return -1;
}

/**
 * The segments a job over `tasks` covers: the trunk and those tasks' heads, in
 * parameter order, adjacent ranges merged (all tasks → one segment).
 */
export function segmentsFor(layout: ParameterLayout, tasks: readonly number[]): Segment[] {
  const ranges = [layout.trunk, ...[...tasks].sort((a, b) => a - b).map((t) => layout.heads[t])]
    .filter((s) => s.length > 0);
  const merged: Segment[] = [];
  for (const s of ranges) {
    const last = merged[merged.length - 1];
    if (last && last.offset + last.length === s.offset) last.length += s.length;
    else merged.push({ offset: s.offset, length: s.length });
  }
  return merged;
}
