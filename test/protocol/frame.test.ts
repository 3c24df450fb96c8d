import { describe, expect, it } from 'vitest';
import { FrameArena } from '../../src/protocol/arena.js';
import { packr, PROTOCOL_VERSION } from '../../src/protocol/codec.js';
import { encodeFrame, HEADER_BLOCK, readFrame, writeFrameHeader, type FrameHeader } from '../../src/protocol/frame.js';

const header = (over: Partial<FrameHeader> = {}): FrameHeader => ({
  v: PROTOCOL_VERSION, step: 7, shard: 1, version: 12, computeMicros: 250, tasks: [0, 2], losses: [1.5, 10, 9, 10, 0.25, 8, 3.5, 8], layout: [0, 3, 10, 2], ...over,
});
const payload = Float32Array.from([1, 2, 3, 4.5, -5]);

/** A frame whose header bytes are replaced by `raw` (any msgpack value). */
function withRawHeader(raw: unknown): Uint8Array {
  const frame = encodeFrame(header(), payload);
  const bytes = packr.pack(raw);
  new DataView(frame.buffer).setUint32(4, bytes.length, true);
  frame.set(bytes, 8);
  return frame;
}

describe('gradient frames', () => {
  it('round-trips header and payload; the payload is viewed in place', () => {
    const frame = encodeFrame(header(), payload);
    expect(frame.length).toBe(HEADER_BLOCK + 5 * 4);
    const decoded = readFrame(frame, { step: 7, shard: 1, version: 12 });
    expect(decoded.header).toEqual(header());
    expect(Array.from(decoded.payload)).toEqual(Array.from(payload));
    expect(decoded.payload.buffer).toBe(frame.buffer);
  });

  it('works in a shared arena slot: payload first, header after', () => {
    const arena = FrameArena.create(2, 5);
    arena.payload(1, 5).set(payload);
    writeFrameHeader(arena.frame(1), header());
    const decoded = readFrame(arena.frame(1));
    expect(decoded.payload.buffer).toBe(arena.handle.buffer);
    expect(Array.from(decoded.payload)).toEqual(Array.from(payload));
    expect(() => arena.frame(2)).toThrow(/slot 2 does not exist/);
    expect(() => arena.payload(0, 1000)).toThrow(/holds/);
  });

  it('rejects a frame computed at another parameter version, step or shard', () => {
    const frame = encodeFrame(header(), payload);
    expect(() => readFrame(frame, { version: 13 })).toThrow(/field "version": 12, expected 13/);
    expect(() => readFrame(frame, { step: 8 })).toThrow(/field "step": 7, expected 8/);
    expect(() => readFrame(frame, { shard: 0 })).toThrow(/field "shard": 1, expected 0/);
  });

  it('rejects truncated frames before trusting any size', () => {
    const frame = encodeFrame(header(), payload);
    expect(() => readFrame(frame.subarray(0, 100))).toThrow(/truncated: 100 bytes/);
    expect(() => readFrame(frame.subarray(0, frame.length - 4))).toThrow(/truncated: the layout describes 5 floats, the frame holds 4/);
    const huge = encodeFrame(header({ layout: [0, 5] }), payload);
    new DataView(huge.buffer).setUint32(4, 0xffffffff, true);
    expect(() => readFrame(huge)).toThrow(/header length 4294967295 is outside/);
  });

  it('rejects garbage, wrong versions and malformed fields with the field named', () => {
    expect(() => readFrame(new Uint8Array(HEADER_BLOCK + 8))).toThrow(/not a gradient frame: magic 0x0/);
    expect(() => readFrame(withRawHeader({ ...header(), v: PROTOCOL_VERSION + 1 }))).toThrow(new RegExp(`field "v": protocol version ${PROTOCOL_VERSION + 1}, expected ${PROTOCOL_VERSION}`));
    expect(() => readFrame(withRawHeader([1, 2, 3]))).toThrow(/not a map/);
    expect(() => readFrame(withRawHeader({ ...header(), step: -1 }))).toThrow(/field "step": -1 is not a non-negative integer/);
    expect(() => readFrame(withRawHeader({ ...header(), tasks: ['a'] }))).toThrow(/field "tasks"/);
    expect(() => readFrame(withRawHeader({ ...header(), losses: [1] }))).toThrow(/field "losses": 1 values for 2 tasks/);
    expect(() => readFrame(withRawHeader({ ...header(), layout: [0, 1, 2] }))).toThrow(/field "layout": odd length/);
    const frame = encodeFrame(header(), payload);
    frame[8] = 0xc1; // a byte msgpack never uses
    expect(() => readFrame(frame)).toThrow(/not valid msgpack/);
  });

  it('decodes a __proto__ key as plain data', () => {
    const decoded = readFrame(withRawHeader(JSON.parse(`{"__proto__": {"polluted": 1}, ${JSON.stringify(header()).slice(1)}`)));
    expect(decoded.header.step).toBe(7);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
