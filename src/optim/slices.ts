/**
 * Splitting an optimizer's segments into contiguous slices, one per worker
 * thread, for updates that several threads apply at once (one writer per
 * element). Cuts fall on a multiple of `align` elements from the start of
 * their segment, so every element meets the same SIMD block and alignment as
 * in a whole-segment update: the bits do not depend on the split.
 */
import { payloadOffset, type Segment } from '../model/layout.js';

/** Part of one segment: parameters [offset, offset + length), state buffers from stateOffset. */
export interface Piece {
  offset: number;
  length: number;
  stateOffset: number;
}

export const SLICE_ALIGN = 64;

/** `parts` slices of the segments (state laid out back to back, in segment order); a slice may be empty. */
export function sliceSegments(segments: readonly Segment[], parts: number, align = SLICE_ALIGN): Piece[][] {
  if (!Number.isSafeInteger(parts) || parts < 1) throw new RangeError(`cannot cut segments into ${parts} slices`);
  const starts: number[] = [];
  let total = 0;
  for (const s of segments) {
    starts.push(total);
    total += s.length;
  }
  // cut points in state order, each rounded down to a multiple of `align` within its segment
  const cuts = [0];
  for (let p = 1; p < parts; p++) {
    const target = Math.floor((p * total) / parts);
    let i = segments.length - 1;
    while (i > 0 && starts[i] > target) i--;
    const within = target - starts[i];
    cuts.push(Math.max(cuts[p - 1], starts[i] + within - (within % align)));
  }
  cuts.push(total);
  return cuts.slice(0, parts).map((from, p) => {
    const to = cuts[p + 1];
    const pieces: Piece[] = [];
    segments.forEach((s, i) => {
      const a = Math.max(from, starts[i]);
      const b = Math.min(to, starts[i] + s.length);
      if (b > a) pieces.push({ offset: s.offset + a - starts[i], length: b - a, stateOffset: a });
    });
    return pieces;
  });
}

/** The parts of `pieces` (parameter ranges) that lie inside `segments`. */
export function intersect(pieces: readonly { offset: number; length: number }[], segments: readonly Segment[]): Segment[] {
  const out: Segment[] = [];
  for (const p of pieces) {
    for (const g of segments) {
      const a = Math.max(p.offset, g.offset);
      const b = Math.min(p.offset + p.length, g.offset + g.length);
      if (b > a) out.push({ offset: a, length: b - a });
    }
  }
  return out;
}

/**
 * Parameter ranges for `parts` workers when several optimizers share the
 * parameters (sequential: one per task, each over the trunk and its head):
 * cuts fall inside the trunk only, on `align`-element blocks from its start,
 * and the last range takes everything after it (the heads, each whole), so
 * every optimizer's segments are cut only on their own blocks.
 */
export function sliceByTrunk(trunk: Segment, total: number, parts: number, align = SLICE_ALIGN): Segment[] {
  if (!Number.isSafeInteger(parts) || parts < 1) throw new RangeError(`cannot cut the parameters into ${parts} slices`);
  const cuts = [0];
  for (let p = 1; p < parts; p++) {
    const within = Math.floor((p * trunk.length) / parts);
    cuts.push(Math.max(cuts[p - 1], trunk.offset + within - (within % align)));
  }
  cuts.push(total);
  return cuts.slice(0, parts).map((from, p) => ({ offset: from, length: cuts[p + 1] - from }));
}

/** The parts of `ranges` inside an optimizer's segments, with where each part's state lies (segments back to back). */
export function statePieces(ranges: readonly Segment[], segments: readonly Segment[]): Piece[] {
  return intersect(ranges, segments).map((part) => ({ ...part, stateOffset: payloadOffset(segments, part.offset) }));
}
