/**
 * A trained `Model` as an ONNX graph (opset 17): the standardization of the
 * inputs, the trunk and every head, and per task its outputs in the units
 * `Model.predict` gives — so any ONNX runtime reproduces `multitask predict`.
 *
 * ## Input
 *
 * `features`: float32 [N, inputWidth], one row per record, the columns in the
 * model's input order (metadata `inputs`): a numeric feature's raw value, in
 * its own units (the graph standardizes it: (x − mean) / std); a categorical
 * feature's one-hot columns, 1 at the record's level and 0 at the others, the
 * levels in the order of metadata `features`. A missing value has no encoding:
 * `multitask predict` leaves such rows out (NaN in gives NaN out).
 *
 * ## Outputs (float32, N rows each)
 *
 * - regression task `<task>`: [N, outputs], the prediction in the target's
 *   units (the target scaling undone, as predict does);
 * - classification task: `<task>.logits` — cross_entropy one logit per class;
 *   bce_with_logits and bce the one logit of class 1 (for bce the input of its
 *   head's sigmoid) — and `<task>.probabilities`, [N, classes] in the order of
 *   the task's classes (softmax; binary: [1 − p, p]). The '.' cannot occur in a
 *   task name, so no output name can clash with another.
 *
 * ## Metadata (ModelProto.metadata_props, JSON values)
 *
 * `features` (the raw feature columns in input order, with their one-hot
 * levels), `inputs` (the name of each input column), `outputs` (name, task,
 * kind, width, classes of each output), and `multitask` (the same JSON a
 * weights file carries, see model.ts: features, inputs, mean, std, tasks, model).
 */
import type { Activation } from '../kernels/types.js';
import { UserError } from '../util/errors.js';
import type { Model } from './model.js';
import { encodeOnnxModel, type OnnxAttribute, type OnnxNode, type OnnxTensor, type OnnxValue } from './onnx-proto.js';
import { architectureOf } from './spec.js';

/** The graph's one input. */
export const ONNX_INPUT = 'features';

/** One output of the graph, as the `outputs` metadata describes it. */
export interface OnnxOutput {
  name: string;
  task: string;
  /** `value`: a regression prediction in the target's units. */
  kind: 'value' | 'logits' | 'probabilities';
  width: number;
  /** Classification: the class of each probability column. */
  classes?: string[];
}

export interface OnnxExportOptions {
  /** ModelProto.producer_version (e.g. multitask's version). */
  producerVersion?: string;
}

/** Architectures the exporter knows how to write (a spec without `architecture` is `shared`). */
const ARCHITECTURES = ['shared'];

/** The outputs of a model's graph, in order: per task, its value, or its logits then probabilities. */
export function onnxOutputs(model: Model): OnnxOutput[] {
  return model.spec.tasks.flatMap((task, t): OnnxOutput[] => {
    const classes = model.preprocessing.tasks[t].classes;
    if (!classes) return [{ name: task.name, task: task.name, kind: 'value', width: task.outputs }];
    return [
      { name: `${task.name}.logits`, task: task.name, kind: 'logits', width: task.outputs },
      { name: `${task.name}.probabilities`, task: task.name, kind: 'probabilities', width: classes.length, classes },
    ];
  });
}

/** Nodes and initializers, each node named after its output. */
class GraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];
  private readonly constants = new Map<string, string>();

  constant(name: string, dims: number[], values: ArrayLike<number>): string {
    this.initializers.push({ name, dims, values: Float32Array.from(values) });
    return name;
  }

  /** A float32 scalar, added once per value. */
  scalar(value: number): string {
    const key = String(value);
    let name = this.constants.get(key);
    if (!name) {
      name = this.constant(`const.${this.constants.size}`, [], [value]);
      this.constants.set(key, name);
    }
    return name;
  }

  op(op: string, inputs: string[], output: string, attributes?: OnnxAttribute[]): string {
    this.nodes.push({ name: output, op, inputs, outputs: [output], attributes });
    return output;
  }
}

function activation(g: GraphBuilder, act: Activation, z: string, out: string): string {
  switch (act) {
    case 'identity': return z;
    case 'relu': return g.op('Relu', [z], out);
    case 'tanh': return g.op('Tanh', [z], out);
    case 'sigmoid': return g.op('Sigmoid', [z], out);
    case 'gelu': {
      // exact GELU, as the kernels: z·Φ(z) = z · ½(1 + erf(z/√2)) (ONNX's Gelu op needs opset 20)
      const erf = g.op('Erf', [g.op('Mul', [z, g.scalar(Math.SQRT1_2)], `${out}.scaled`)], `${out}.erf`);
      const cdf = g.op('Mul', [g.op('Add', [erf, g.scalar(1)], `${out}.erf1`), g.scalar(0.5)], `${out}.cdf`);
      return g.op('Mul', [z, cdf], out);
    }
    default:
      throw new UserError(`ONNX export: activation ${JSON.stringify(act)} has no ONNX form here`);
  }
}

/**
 * The ONNX model file (bytes) of a trained model; see the file comment for
 * its input, outputs and metadata. Throws a UserError for a model the
 * exporter cannot write exactly (an architecture other than a shared trunk).
 */
export function toOnnx(model: Model, options: OnnxExportOptions = {}): Uint8Array {
  const spec = model.spec;
  const architecture = architectureOf(spec);
  if (!ARCHITECTURES.includes(architecture)) {
    throw new UserError(`ONNX export: model architecture ${JSON.stringify(architecture)} is not supported (the exporter writes ${ARCHITECTURES.join(', ')}: one trunk and a head per task)`);
  }
  const params = model.named();
  const g = new GraphBuilder();
  const enc = model.preprocessing.features;
  const width = spec.inputWidth;

  const linear = (prefix: string, input: string, act: Activation): string => {
    const [outWidth, inWidth] = model.layout.entries.find((e) => e.name === `${prefix}.weight`)!.shape;
    g.constant(`${prefix}.weight`, [outWidth, inWidth], params[`${prefix}.weight`]);
    g.constant(`${prefix}.bias`, [outWidth], params[`${prefix}.bias`]);
    // y = x·Wᵀ + b with W stored [out, in], PyTorch's layout
    const z = g.op('Gemm', [input, `${prefix}.weight`, `${prefix}.bias`], act === 'identity' ? prefix : `${prefix}.linear`, [{ name: 'transB', int: 1 }]);
    return activation(g, act, z, prefix);
  };

  const mean = g.constant('input.mean', [width], enc.mean);
  const std = g.constant('input.std', [width], enc.std);
  let x = g.op('Div', [g.op('Sub', [ONNX_INPUT, mean], 'input.centered'), std], 'input.standardized');
  spec.trunk.forEach((layer, i) => {
    x = linear(`trunk.${i}`, x, layer.activation);
  });

  const outputs = onnxOutputs(model);
  const emit = (name: string, from: string) => g.op('Identity', [from], name);
  spec.tasks.forEach((task, t) => {
    const head = `heads.${task.name}`;
    const features = task.hidden ? linear(`${head}.hidden`, x, task.hidden.activation) : x;
    // the head's last linear layer without its output activation (bce's sigmoid is applied below)
    const z = linear(task.hidden ? `${head}.out` : head, features, 'identity');
    const pre = model.preprocessing.tasks[t];
    if (!pre.classes) {
      const value = pre.targetStd === undefined ? z
        : g.op('Add', [g.op('Mul', [z, g.scalar(pre.targetStd)], `${head}.scaled`), g.scalar(pre.targetMean ?? 0)], `${head}.value`);
      emit(task.name, value);
      return;
    }
    emit(`${task.name}.logits`, z);
    if (task.loss === 'cross_entropy') {
      g.op('Softmax', [z], `${task.name}.probabilities`, [{ name: 'axis', int: 1 }]);
    } else {
      const p = g.op('Sigmoid', [z], `${head}.p`);
      g.op('Concat', [g.op('Sub', [g.scalar(1), p], `${head}.q`), p], `${task.name}.probabilities`, [{ name: 'axis', int: 1 }]);
    }
  });

  const output = (o: OnnxOutput): OnnxValue => ({
    name: o.name,
    shape: ['N', o.width],
    doc: o.kind === 'value' ? `task ${o.task}: the prediction in the target's units`
      : o.kind === 'logits' ? `task ${o.task}: logits` : `task ${o.task}: probabilities of ${o.classes!.join(', ')}`,
  });
  return encodeOnnxModel({
    producerName: 'multitask',
    producerVersion: options.producerVersion ?? '',
    doc: `multitask model: input "${ONNX_INPUT}" [N, ${width}] (raw numeric values and one-hot columns in the order of metadata "inputs"); outputs per task (metadata "outputs")`,
    graph: {
      name: 'multitask',
      nodes: g.nodes,
      initializers: g.initializers,
      inputs: [{ name: ONNX_INPUT, shape: ['N', width], doc: `inputs in order: ${enc.names.join(', ')}` }],
      outputs: outputs.map(output),
    },
    metadata: {
      features: JSON.stringify(enc.columns),
      inputs: JSON.stringify(enc.names),
      outputs: JSON.stringify(outputs),
      multitask: model.metadataJSON(),
    },
  });
}
