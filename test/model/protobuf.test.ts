import { describe, expect, it } from 'vitest';
import { float32Bytes, int64Bytes, ProtoWriter } from '../../src/model/protobuf.js';
import { readMessage } from '../helpers/onnx.js';

describe('ProtoWriter', () => {
  it('writes the wire format of the protobuf documentation\'s examples', () => {
    // "field 1 = 150" is 08 96 01; a string "testing" in field 2 is 12 07 74 65 73 74 69 6e 67
    expect(Array.from(new ProtoWriter().int(1, 150).finish())).toEqual([0x08, 0x96, 0x01]);
    expect(Array.from(new ProtoWriter().string(2, 'testing').finish())).toEqual([0x12, 0x07, 0x74, 0x65, 0x73, 0x74, 0x69, 0x6e, 0x67]);
    // an embedded message: field 3 holding { 1: 150 }
    expect(Array.from(new ProtoWriter().message(3, new ProtoWriter().int(1, 150)).finish())).toEqual([0x1a, 0x03, 0x08, 0x96, 0x01]);
  });

  it('writes negative ints as ten-byte two\'s complement varints, floats as 4 little-endian bytes', () => {
    const bytes = new ProtoWriter().int(8, -1).float(2, 1.5).int(3, 2 ** 40).finish();
    expect(bytes.length).toBe(1 + 10 + 1 + 4 + 1 + 6);
    const fields = readMessage(bytes);
    expect(fields.get(8)).toEqual([2n ** 64n - 1n]);
    expect(fields.get(2)).toEqual([1.5]);
    expect(fields.get(3)).toEqual([2n ** 40n]);
    expect(() => new ProtoWriter().int(1, 0.5)).toThrow(RangeError);
  });

  it('float32Bytes: little-endian float32, rounded as Float32Array rounds', () => {
    const values = [0.1, -2.5, 3e38, 1e-45];
    const bytes = float32Bytes(values);
    expect(Array.from(new Float32Array(bytes.buffer))).toEqual(Array.from(Float32Array.from(values)));
  });

  it('int64Bytes: eight little-endian bytes per value, negative ones in two\'s complement', () => {
    expect(Array.from(int64Bytes([1, -1, 2 ** 40]))).toEqual([1, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255, 0, 0, 0, 0, 0, 1, 0, 0]);
  });
});
