/**
 * Reading ONNX files in tests: a protobuf wire-format reader (independent of
 * src/model/protobuf.ts, which only writes) for the ModelProto fields the
 * runtime does not expose, and onnxruntime-node sessions.
 */
import * as ort from 'onnxruntime-node';

/** A message's fields: field number → values in order (varints as bigint, length-delimited as bytes). */
export type Fields = Map<number, (bigint | Uint8Array | number)[]>;

export function readMessage(bytes: Uint8Array): Fields {
  const fields: Fields = new Map();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const varint = (): bigint => {
    let v = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const b = bytes[at++];
      if (b === undefined) throw new Error('truncated varint');
      v |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return v;
    }
  };
  while (at < bytes.length) {
    const tag = Number(varint());
    const field = tag >>> 3;
    let value: bigint | Uint8Array | number;
    switch (tag & 7) {
      case 0: value = varint(); break;
      case 2: {
        const n = Number(varint());
        value = bytes.subarray(at, at + n);
        if (value.length !== n) throw new Error(`field ${field}: truncated`);
        at += n;
        break;
      }
      case 5: value = view.getFloat32(at, true); at += 4; break;
      case 1: value = view.getFloat64(at, true); at += 8; break;
      default: throw new Error(`field ${field}: wire type ${tag & 7}`);
    }
    fields.set(field, [...(fields.get(field) ?? []), value]);
  }
  return fields;
}

const text = (b: unknown) => new TextDecoder().decode(b as Uint8Array);

/** ModelProto.metadata_props (field 14) as an object. */
export function onnxMetadata(model: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of readMessage(model).get(14) ?? []) {
    const kv = readMessage(entry as Uint8Array);
    out[text(kv.get(1)![0])] = text(kv.get(2)![0]);
  }
  return out;
}

/** The op types of the graph's nodes (ModelProto.graph = 7, GraphProto.node = 1, NodeProto.op_type = 4). */
export function onnxOps(model: Uint8Array): string[] {
  const graph = readMessage(readMessage(model).get(7)![0] as Uint8Array);
  return (graph.get(1) ?? []).map((n) => text(readMessage(n as Uint8Array).get(4)![0]));
}

/** Runs the model on rows × width float32 features; every output as a Float32Array. */
export async function runOnnx(model: Uint8Array, features: Float32Array, width: number, input = 'features'): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(model);
  try {
    const result = await session.run({ [input]: new ort.Tensor('float32', features, [features.length / width, width]) });
    return Object.fromEntries(Object.entries(result).map(([name, t]) => [name, t.data as Float32Array]));
  } finally {
    await session.release();
  }
}

/** The ONNX input of raw records, built from the file's `features` metadata as a user would: raw numbers, one-hot levels. */
export function onnxInput(meta: Record<string, string>, records: Record<string, unknown>[]): Float32Array {
  const features = JSON.parse(meta.features) as { name: string; kind: string; levels?: string[] }[];
  return Float32Array.from(records.flatMap((r) => features.flatMap((f) => (f.kind === 'numeric' ? [Number(r[f.name])] : f.levels!.map((l) => (r[f.name] === l ? 1 : 0))))));
}

/**
 * The largest |a − e| / max(1, |e|): the 1e-5 taken as float32
 * agreement, relative for values above 1 (grams carry 7 digits in float32).
 */
export function worstError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`${actual.length} values, expected ${expected.length}`);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / Math.max(1, Math.abs(expected[i])));
  return worst;
}

export { ort };
