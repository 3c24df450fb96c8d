/**
 * The protocol-buffers wire format, write side only: just what an ONNX model
 * file needs (varints, length-delimited strings, bytes and nested messages,
 * and 32-bit floats). A message is written field by field; a nested message is
 * written to its own writer first, then embedded with its length.
 * https://protobuf.dev/programming-guides/encoding/
 */

/** Wire types (the low three bits of a field's tag). */
const VARINT = 0;
const FIXED32 = 5;
const LENGTH = 2;

const utf8 = new TextEncoder();

export class ProtoWriter {
  private readonly chunks: Uint8Array[] = [];
  private length = 0;

  /** An int32/int64/enum/bool field; negative values take ten bytes, as int64 does on the wire. */
  int(field: number, value: number | boolean): this {
    const v = typeof value === 'boolean' ? (value ? 1 : 0) : value;
    if (!Number.isSafeInteger(v)) throw new RangeError(`protobuf field ${field}: ${v} is not an integer`);
    this.tag(field, VARINT);
    this.varint(v);
    return this;
  }

  /** A float field (fixed 32 bits, little-endian). */
  float(field: number, value: number): this {
    this.tag(field, FIXED32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.push(b);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, utf8.encode(value));
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, LENGTH);
    this.varint(value.length);
    this.push(value);
    return this;
  }

  /** An embedded message. */
  message(field: number, value: ProtoWriter): this {
    return this.bytes(field, value.finish());
  }

  /** The bytes written so far, as one array. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }

  private tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  private varint(value: number): void {
    // two's complement in 64 bits for negative values
    let v = value < 0 ? BigInt.asUintN(64, BigInt(value)) : BigInt(value);
    const out: number[] = [];
    do {
      const low = Number(v & 0x7fn);
      v >>= 7n;
      out.push(v > 0n ? low | 0x80 : low);
    } while (v > 0n);
    this.push(Uint8Array.from(out));
  }

  private push(b: Uint8Array): void {
    this.chunks.push(b);
    this.length += b.length;
  }
}

/** float32 values as little-endian bytes (what ONNX's raw_data holds). */
export function float32Bytes(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
  return out;
}

/** int64 values as little-endian bytes (raw_data of an INT64 tensor: Unsqueeze and ReduceSum axes). */
export function int64Bytes(values: readonly number[]): Uint8Array {
  const out = new Uint8Array(values.length * 8);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
  return out;
}
