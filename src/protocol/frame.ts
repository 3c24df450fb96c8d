import { packr, PROTOCOL_VERSION } from './codec.js';
import { LOSS_STATS_LENGTH } from '../kernels/types.js';
import type { Segment } from '../model/layout.js';

/**
 * A gradient frame: a fixed-size header block — magic, header length, then a
 * msgpackr-encoded header — followed by the raw float32 payload. The payload
 * starts at a fixed, 64-byte-aligned offset so a worker can write its gradient
 * into a shared slot before it knows its loss, then fill in the header; the
 * same bytes can go over a socket unchanged.
 */
export const FRAME_MAGIC = 0x5246544d; // 'MTFR' little-endian
export const HEADER_BLOCK = 4096;

export interface FrameHeader {
  /** protocol version */
  v: number;
  step: number;
  shard: number;
  /** parameter version the gradient was computed at */
  version: number;
  /** task indices the payload is the gradient of (one per-task, all for a fused job) */
  tasks: number[];
  /** time the worker spent computing this frame, in microseconds (for profiles) */
  computeMicros: number;
  /** per task: [loss sum, labelled count, metric sum], flattened */
  losses: number[];
  /** parameter-space segments held back to back in the payload, flattened [offset, length, ...] */
  layout: number[];
}

export class FrameError extends Error {
  override readonly name = 'FrameError';
}

export function flattenSegments(segments: readonly Segment[]): number[] {
  return segments.flatMap((s) => [s.offset, s.length]);
}

function payloadFloats(layout: readonly number[]): number {
  let n = 0;
  for (let i = 1; i < layout.length; i += 2) n += layout[i];
  return n;
}

/** Writes the header block of a frame whose payload is already in place. */
export function writeFrameHeader(frame: Uint8Array, header: FrameHeader): void {
  const encoded = packr.pack(header);
  if (encoded.length > HEADER_BLOCK - 8) {
    throw new FrameError(`frame header is ${encoded.length} bytes, more than the ${HEADER_BLOCK - 8} the header block holds`);
  }
  const view = new DataView(frame.buffer, frame.byteOffset, 8);
  view.setUint32(0, FRAME_MAGIC, true);
  view.setUint32(4, encoded.length, true);
  frame.set(encoded, 8);
}

/** A whole frame in one new buffer, for sending to another process. */
export function encodeFrame(header: FrameHeader, payload: Float32Array): Uint8Array {
  const floats = payloadFloats(header.layout);
  if (payload.length !== floats) throw new FrameError(`payload has ${payload.length} floats, the layout describes ${floats}`);
  const frame = new Uint8Array(HEADER_BLOCK + floats * 4);
  writeFrameHeader(frame, header);
  new Float32Array(frame.buffer, HEADER_BLOCK, floats).set(payload);
  return frame;
}

const isInt = (x: unknown): x is number => Number.isInteger(x) && (x as number) >= 0;

function intField(h: Record<string, unknown>, field: string): number {
  const value = h[field];
  if (!isInt(value)) throw new FrameError(`frame header field "${field}": ${JSON.stringify(value)} is not a non-negative integer`);
  return value;
}

function arrayField(h: Record<string, unknown>, field: string, check: (x: unknown) => boolean, what: string): number[] {
  const value = h[field];
  if (!Array.isArray(value) || !value.every(check)) {
    throw new FrameError(`frame header field "${field}": expected an array of ${what}`);
  }
  return value as number[];
}

/** What the reader expects; a frame that disagrees is rejected with the field named. */
export interface FrameExpectation {
  step?: number;
  shard?: number;
  version?: number;
}

export interface DecodedFrame {
  header: FrameHeader;
  /** The payload, viewed in place when the frame is 4-byte aligned (always true in the arena). */
  payload: Float32Array;
}

/** Validates and decodes a frame; never trusts a size it has not checked against the bytes. */
export function readFrame(frame: Uint8Array, expect: FrameExpectation = {}): DecodedFrame {
  if (frame.length < HEADER_BLOCK) {
    throw new FrameError(`frame truncated: ${frame.length} bytes, the header block alone is ${HEADER_BLOCK}`);
  }
  const view = new DataView(frame.buffer, frame.byteOffset, 8);
  const magic = view.getUint32(0, true);
  if (magic !== FRAME_MAGIC) throw new FrameError(`not a gradient frame: magic 0x${magic.toString(16)}, expected 0x${FRAME_MAGIC.toString(16)}`);
  const headerLength = view.getUint32(4, true);
  if (headerLength === 0 || headerLength > HEADER_BLOCK - 8) {
    throw new FrameError(`frame header length ${headerLength} is outside 1..${HEADER_BLOCK - 8}`);
  }
  let raw: unknown;
  try {
    raw = packr.unpack(frame.subarray(8, 8 + headerLength));
  } catch (e) {
    throw new FrameError(`frame header is not valid msgpack: ${(e as Error).message}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new FrameError('frame header is not a map');
  const h = raw as Record<string, unknown>;
  if (h.v !== PROTOCOL_VERSION) {
    throw new FrameError(`frame header field "v": protocol version ${JSON.stringify(h.v)}, expected ${PROTOCOL_VERSION}`);
  }
  const header: FrameHeader = {
    v: PROTOCOL_VERSION,
    step: intField(h, 'step'),
    shard: intField(h, 'shard'),
    version: intField(h, 'version'),
    computeMicros: intField(h, 'computeMicros'),
    tasks: arrayField(h, 'tasks', isInt, 'task indices'),
    losses: arrayField(h, 'losses', (x) => typeof x === 'number', 'numbers'),
    layout: arrayField(h, 'layout', isInt, 'non-negative integers'),
  };
  if (header.losses.length !== header.tasks.length * LOSS_STATS_LENGTH) {
    throw new FrameError(`frame header field "losses": ${header.losses.length} values for ${header.tasks.length} tasks, expected ${header.tasks.length * LOSS_STATS_LENGTH}`);
  }
  if (header.layout.length % 2 !== 0) throw new FrameError('frame header field "layout": odd length, expected [offset, length] pairs');
  for (const field of ['step', 'shard', 'version'] as const) {
    const want = expect[field];
    if (want !== undefined && header[field] !== want) {
      throw new FrameError(`frame header field "${field}": ${header[field]}, expected ${want}`);
    }
  }
  const floats = payloadFloats(header.layout);
  const available = Math.floor((frame.length - HEADER_BLOCK) / 4);
  if (floats > available) {
    throw new FrameError(`frame truncated: the layout describes ${floats} floats, the frame holds ${available}`);
  }
  const start = frame.byteOffset + HEADER_BLOCK;
  const payload = start % 4 === 0
    ? new Float32Array(frame.buffer, start, floats)
    : new Float32Array(frame.slice(HEADER_BLOCK, HEADER_BLOCK + floats * 4).buffer);
  return { header, payload };
}
