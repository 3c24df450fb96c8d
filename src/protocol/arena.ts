import { HEADER_BLOCK } from './frame.js';

/** What a worker needs to reach the arena (shared memory, never copied). */
export interface ArenaHandle {
  buffer: SharedArrayBuffer;
  slots: number;
  slotBytes: number;
}

/**
 * One SharedArrayBuffer cut into slots, one per job of a step. A job's worker
 * writes its gradient straight into its slot's payload and then the frame
 * header; the coordinator reads the frame in place. Allocated once per run:
 * no gradient is cloned, transferred or allocated per step.
 */
export class FrameArena {
  readonly handle: ArenaHandle;
  private readonly frames: Uint8Array[];

  constructor(handle: ArenaHandle) {
    this.handle = handle;
    this.frames = [];
    for (let i = 0; i < handle.slots; i++) {
      this.frames.push(new Uint8Array(handle.buffer, i * handle.slotBytes, handle.slotBytes));
    }
  }

  /** An arena of `slots` slots, each holding a frame with up to `payloadFloats` floats. */
  static create(slots: number, payloadFloats: number): FrameArena {
    const slotBytes = HEADER_BLOCK + Math.ceil((payloadFloats * 4) / 64) * 64;
    return new FrameArena({ buffer: new SharedArrayBuffer(slots * slotBytes), slots, slotBytes });
  }

  /** The bytes of slot i (the whole frame). */
  frame(slot: number): Uint8Array {
    const f = this.frames[slot];
    if (!f) throw new RangeError(`arena slot ${slot} does not exist (${this.handle.slots} slots)`);
    return f;
  }

  /** Float view of slot i's payload region, `floats` long. */
  payload(slot: number, floats: number): Float32Array {
    const f = this.frame(slot);
    if (HEADER_BLOCK + floats * 4 > f.length) throw new RangeError(`arena slot holds ${(f.length - HEADER_BLOCK) / 4} floats, ${floats} requested`);
    return new Float32Array(f.buffer, f.byteOffset + HEADER_BLOCK, floats);
  }
}
