/**
 * Building an ONNX graph of a model: nodes and initializers, the activations
 * as ONNX ops, and a model's Linear layers (weights under their PyTorch
 * names). Used by onnx.ts (trunk and heads) and onnx-mixture.ts (experts,
 * gates and towers).
 */
import type { Activation } from '../kernels/types.js';
import { UserError } from '../util/errors.js';
import type { Model } from './model.js';
import type { OnnxAttribute, OnnxNode, OnnxTensor } from './onnx-proto.js';

/** Nodes and initializers, each node named after its output. */
export class GraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];
  private readonly constants = new Map<string, string>();

  constant(name: string, dims: number[], values: ArrayLike<number>): string {
    this.initializers.push({ name, dims, values: Float32Array.from(values) });
    return name;
  }

  /** A float32 scalar, added once per value. */
  scalar(value: number): string {
    return this.shared(String(value), (name) => this.constant(name, [], [value]));
  }

  /** An int64 vector of axes (the axes input of Unsqueeze and ReduceSum since opset 13), added once per value. */
  axes(values: number[]): string {
    return this.shared(`axes ${values.join(',')}`, (name) => {
      this.initializers.push({ name, dims: [values.length], values, int64: true });
      return name;
    });
  }

  op(op: string, inputs: string[], output: string, attributes?: OnnxAttribute[]): string {
    this.nodes.push({ name: output, op, inputs, outputs: [output], attributes });
    return output;
  }

  private shared(key: string, add: (name: string) => string): string {
    let name = this.constants.get(key);
    if (!name) {
      name = add(`const.${this.constants.size}`);
      this.constants.set(key, name);
    }
    return name;
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

/** Writes the Linear layer `<prefix>` of a model on `input`, then `act`; returns its output, named `<prefix>`. */
export type LinearWriter = (prefix: string, input: string, act: Activation) => string;

/** The LinearWriter of a model's parameters: each layer's weight and bias become initializers under their PyTorch names. */
export function linearWriter(g: GraphBuilder, model: Model): LinearWriter {
  const params = model.named();
  const shapes = new Map(model.layout.entries.map((e) => [e.name, e.shape]));
  return (prefix, input, act) => {
    const [outWidth, inWidth] = shapes.get(`${prefix}.weight`)!;
    g.constant(`${prefix}.weight`, [outWidth, inWidth], params[`${prefix}.weight`]);
    g.constant(`${prefix}.bias`, [outWidth], params[`${prefix}.bias`]);
    // y = x·Wᵀ + b with W stored [out, in], PyTorch's layout
    const z = g.op('Gemm', [input, `${prefix}.weight`, `${prefix}.bias`], act === 'identity' ? prefix : `${prefix}.linear`, [{ name: 'transB', int: 1 }]);
    return activation(g, act, z, prefix);
  };
}
