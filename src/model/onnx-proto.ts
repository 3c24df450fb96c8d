/**
 * The few ONNX messages a multitask model needs (float32 tensors, int64 axes
 * tensors, nodes with int attributes, one graph), written with the protobuf
 * writer. Field numbers are those of onnx/onnx.proto (IR version 8, the one
 * that goes with opset 17).
 *
 * Written by hand rather than with a generated protobuf library: the messages
 * used here are a handful of fields that ONNX has kept stable since IR 3, the
 * export needs no run-time dependency, and every file this writes is checked by
 * loading and running it in onnxruntime (test/model/onnx.test.ts).
 */
import { float32Bytes, int64Bytes, ProtoWriter } from './protobuf.js';

/** ONNX IR version of the files written (8: ONNX 1.10+, onnxruntime 1.10+). */
export const IR_VERSION = 8;
/** The default-domain operator set the graphs use (Softmax on the last axis, Gemm, Erf, ...). */
export const OPSET_VERSION = 17;

/** TensorProto.DataType */
const FLOAT = 1;
const INT64 = 7;
/** AttributeProto.AttributeType */
const ATTRIBUTE_FLOAT = 1;
const ATTRIBUTE_INT = 2;

/** A float32 initializer, or an int64 one (`int64: true`: axes and shapes, the ops' integer inputs). */
export interface OnnxTensor {
  name: string;
  dims: number[];
  values: ArrayLike<number>;
  int64?: boolean;
}

export type OnnxAttribute = { name: string; int: number } | { name: string; float: number };

export interface OnnxNode {
  name: string;
  op: string;
  inputs: string[];
  outputs: string[];
  attributes?: OnnxAttribute[];
}

/** A float32 graph input or output; a string dimension is symbolic (e.g. the row count `N`). */
export interface OnnxValue {
  name: string;
  shape: (number | string)[];
  doc?: string;
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  inputs: OnnxValue[];
  outputs: OnnxValue[];
  doc?: string;
}

export interface OnnxModel {
  producerName: string;
  producerVersion: string;
  doc?: string;
  graph: OnnxGraph;
  /** ModelProto.metadata_props */
  metadata: Record<string, string>;
}

function tensor(t: OnnxTensor): ProtoWriter {
  const w = new ProtoWriter();
  for (const d of t.dims) w.int(1, d);
  if (t.int64) return w.int(2, INT64).string(8, t.name).bytes(9, int64Bytes(Array.from(t.values)));
  return w.int(2, FLOAT).string(8, t.name).bytes(9, float32Bytes(t.values));
}

function attribute(a: OnnxAttribute): ProtoWriter {
  const w = new ProtoWriter().string(1, a.name);
  return 'int' in a ? w.int(20, ATTRIBUTE_INT).int(3, a.int) : w.int(20, ATTRIBUTE_FLOAT).float(2, a.float);
}

function node(n: OnnxNode): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, n.name).string(4, n.op);
  for (const a of n.attributes ?? []) w.message(5, attribute(a));
  return w;
}

function valueInfo(v: OnnxValue): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of v.shape) shape.message(1, typeof d === 'number' ? new ProtoWriter().int(1, d) : new ProtoWriter().string(2, d));
  const tensorType = new ProtoWriter().int(1, FLOAT).message(2, shape);
  const w = new ProtoWriter().string(1, v.name).message(2, new ProtoWriter().message(1, tensorType));
  if (v.doc) w.string(3, v.doc);
  return w;
}

function graph(g: OnnxGraph): ProtoWriter {
  const w = new ProtoWriter();
  for (const n of g.nodes) w.message(1, node(n));
  w.string(2, g.name);
  for (const t of g.initializers) w.message(5, tensor(t));
  if (g.doc) w.string(10, g.doc);
  for (const v of g.inputs) w.message(11, valueInfo(v));
  for (const v of g.outputs) w.message(12, valueInfo(v));
  return w;
}

/** The bytes of an ONNX model file (ModelProto). */
export function encodeOnnxModel(m: OnnxModel): Uint8Array {
  const w = new ProtoWriter()
    .int(1, IR_VERSION)
    .string(2, m.producerName)
    .string(3, m.producerVersion);
  if (m.doc) w.string(6, m.doc);
  w.message(7, graph(m.graph));
  w.message(8, new ProtoWriter().string(1, '').int(2, OPSET_VERSION));
  for (const [key, value] of Object.entries(m.metadata)) w.message(14, new ProtoWriter().string(1, key).string(2, value));
  return w.finish();
}
