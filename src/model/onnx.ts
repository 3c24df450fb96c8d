/**
 * A trained `Model` as an ONNX graph (opset 17): the standardization of the
 * inputs, the trunk and every head — or a mixture's experts, gates and towers
 * (onnx-mixture.ts) — and per task its outputs in the units `Model.predict`
 * gives, so any ONNX runtime reproduces `multitask predict`.
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
import { mixtureStructure } from './mixture-layout.js';
import type { Model } from './model.js';
import { GraphBuilder, linearWriter, type LinearWriter } from './onnx-graph.js';
import { writeMixture } from './onnx-mixture.js';
import { encodeOnnxModel, type OnnxValue } from './onnx-proto.js';

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

/** Per task: the input of its output layer, that layer's name, and the name prefix of the nodes after it. */
interface Head {
  features: string;
  out: string;
  prefix: string;
}

/** The trunk on `x`, then each head's hidden layer. */
function sharedHeads(linear: LinearWriter, model: Model, x: string): Head[] {
  const trunk = model.spec.trunk.reduce((from, layer, i) => linear(`trunk.${i}`, from, layer.activation), x);
  return model.spec.tasks.map((task) => {
    const prefix = `heads.${task.name}`;
    if (!task.hidden) return { features: trunk, out: prefix, prefix };
    return { features: linear(`${prefix}.hidden`, trunk, task.hidden.activation), out: `${prefix}.out`, prefix };
  });
}

/** The experts and gates on `x`, then each tower's hidden layers (onnx-mixture.ts). */
function mixtureHeads(g: GraphBuilder, linear: LinearWriter, model: Model, x: string): Head[] {
  return writeMixture(g, linear, mixtureStructure(model.spec), x).map((head, t) => ({ ...head, prefix: `towers.${model.spec.tasks[t].name}` }));
}

/**
 * The ONNX model file (bytes) of a trained model, of any architecture (a
 * shared trunk, mmoe, ple); see the file comment for its input, outputs and
 * metadata.
 */
export function toOnnx(model: Model, options: OnnxExportOptions = {}): Uint8Array {
  const spec = model.spec;
  const g = new GraphBuilder();
  const linear = linearWriter(g, model);
  const enc = model.preprocessing.features;
  const width = spec.inputWidth;

  const mean = g.constant('input.mean', [width], enc.mean);
  const std = g.constant('input.std', [width], enc.std);
  const x = g.op('Div', [g.op('Sub', [ONNX_INPUT, mean], 'input.centered'), std], 'input.standardized');
  // per task: the input of its last linear layer, that layer's name, and a prefix for the output nodes
  const heads = spec.mixture ? mixtureHeads(g, linear, model, x) : sharedHeads(linear, model, x);

  const outputs = onnxOutputs(model);
  const emit = (name: string, from: string) => g.op('Identity', [from], name);
  spec.tasks.forEach((task, t) => {
    const { features, out, prefix: head } = heads[t];
    // the task's last linear layer without its output activation (bce's sigmoid is applied below)
    const z = linear(out, features, 'identity');
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
