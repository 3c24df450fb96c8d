/**
 * The experts, gates and towers of a mixture-of-experts model (MMoE, PLE) as
 * ONNX nodes, mirroring forwardMixture/forwardTower (mixture.ts) over the
 * structure of mixture-layout.ts: per level, every expert's MLP on its
 * stream's input; per gate, p = softmax(gate logits) and its stream's output
 * Σ_i p_i · E_i over the gate's experts; PLE's shared gates (every level but
 * the last) write the next level's shared stream.
 */
import type { MixtureStructure } from './mixture-layout.js';
import type { GraphBuilder, LinearWriter } from './onnx-graph.js';

/**
 * Writes the mixture on the (standardized) input `x` and each task's tower
 * up to its output layer; returns per task the output layer's input and the
 * output layer's name (`towers.<task>.<j>`).
 */
export function writeMixture(g: GraphBuilder, linear: LinearWriter, s: MixtureStructure, x: string): { features: string; out: string }[] {
  // the previous level's output per stream (tasks, then the shared stream); level 0 reads x on every stream
  let streams: string[] | undefined;
  for (const level of s.levels) {
    const input = (stream: number) => (streams ? streams[stream] : x);
    // each expert's output [N, D] as [N, 1, D], to stack a gate's experts on axis 1
    const stacked = level.experts.map((e) => {
      const h = e.layers.reduce((from, layer) => linear(layer.name, from, layer.activation), input(e.stream));
      return g.op('Unsqueeze', [h, g.axes([1])], `${e.name}.stacked`);
    });
    const outputs: string[] = [];
    for (const gate of level.gates) {
      const name = gate.linear.name;
      const p = g.op('Softmax', [linear(name, input(gate.stream), 'identity')], `${name}.p`, [{ name: 'axis', int: -1 }]);
      const experts = g.op('Concat', gate.experts.map((e) => stacked[e]), `${name}.experts`, [{ name: 'axis', int: 1 }]);
      // [N, n, D] · [N, n, 1], summed over the n experts
      const weighted = g.op('Mul', [experts, g.op('Unsqueeze', [p, g.axes([2])], `${name}.weights`)], `${name}.weighted`);
      outputs[gate.stream] = g.op('ReduceSum', [weighted, g.axes([1])], `${name}.mixture`, [{ name: 'keepdims', int: 0 }]);
    }
    streams = outputs;
  }
  return s.towers.map((tower, t) => {
    const hidden = tower.slice(0, -1);
    const features = hidden.reduce((from, layer) => linear(layer.name, from, layer.activation), streams![t]);
    return { features, out: tower[tower.length - 1].name };
  });
}
