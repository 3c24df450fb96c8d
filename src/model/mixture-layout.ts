/**
 * The structure of a mixture-of-experts model (MMoE, PLE): its experts, gates
 * and towers, their PyTorch names, and which segment of the parameter vector
 * each one belongs to. One description serves the layout (layout.ts), the
 * tensor views (parameters.ts) and the passes (mixture.ts).
 *
 * Streams: a level reads one input per task (its "task stream") and, in PLE,
 * one shared input (the "shared stream", index T). Level 0 reads the model's
 * input on every stream. A task gate writes its task's stream of the next
 * level; PLE's shared gate (every level but the last) writes the shared stream.
 * MMoE is the special case of one level, no task experts and no shared gate.
 *
 * Names (a PyTorch module of nested ModuleList/ModuleDict, see the README):
 * - mmoe: `experts.<e>.<j>`, `gates.<task>`, `towers.<task>.<j>`;
 * - ple:  `shared_experts.<level>.<e>.<j>`, `experts.<task>.<level>.<e>.<j>`,
 *         `gates.<task>.<level>`, `shared_gates.<level>`, `towers.<task>.<j>`;
 * j indexes an MLP's Linear layers (a tower's last one is its output layer).
 *
 * Segments. The shared segment holds what more than one task's loss reaches;
 * a task's segment what only its loss reaches (so a per-task gradient is zero
 * outside the shared segment and the task's own). In PLE a task's experts at a
 * level below the last feed the shared gate, hence every task: they are
 * shared; so is a task's gate below level L−2 (it feeds the task's next-level
 * experts, which feed the shared gate). With L levels, task t owns: its
 * experts at level L−1, its gates at levels L−2 and L−1, and its tower.
 */
import { outputActivation, type LayerSpec, type ModelSpec } from './spec.js';

/** One Linear layer of the mixture, with the activation after it. */
export interface LinearRef {
  name: string;
  inWidth: number;
  outWidth: number;
  activation: LayerSpec['activation'];
}

export interface ExpertRef {
  /** its name prefix, e.g. `experts.0` or `shared_experts.1.0` */
  name: string;
  /** the stream it reads: a task index, or T for the shared stream */
  stream: number;
  /** the segment it belongs to: a task index, or −1 for the shared segment */
  owner: number;
  layers: LinearRef[];
}

export interface GateRef {
  /** the stream it reads and writes (of the next level): a task index, or T (shared gate) */
  stream: number;
  owner: number;
  /** the level's experts it weighs, in softmax order */
  experts: number[];
  linear: LinearRef;
}

export interface LevelRef {
  /** each task's own experts (task order), then the shared experts */
  experts: ExpertRef[];
  /** each task's gate (task order), then the shared gate unless this is the last level */
  gates: GateRef[];
}

export interface MixtureStructure {
  /** tasks; the shared stream's index */
  tasks: number;
  /** width of every expert output and every gated mixture */
  width: number;
  levels: LevelRef[];
  /** per task: its tower's layers, the last one the output layer */
  towers: LinearRef[][];
}

/** The structure of a spec with `mixture` set. */
export function mixtureStructure(spec: ModelSpec): MixtureStructure {
  const m = spec.mixture;
  if (!m) throw new Error('mixtureStructure: the spec has no mixture');
  const ple = m.architecture === 'ple';
  const T = spec.tasks.length;
  const L = m.levels;
  const width = m.expert[m.expert.length - 1].units;
  const mlp = (prefix: string, inWidth: number, layers: readonly LayerSpec[]): LinearRef[] => {
    let w = inWidth;
    return layers.map((layer, j) => {
      const ref = { name: `${prefix}.${j}`, inWidth: w, outWidth: layer.units, activation: layer.activation };
      w = layer.units;
      return ref;
    });
  };
  const levels = Array.from({ length: L }, (_, l): LevelRef => {
    const inWidth = l === 0 ? spec.inputWidth : width;
    const experts: ExpertRef[] = [];
    spec.tasks.forEach((task, t) => {
      for (let e = 0; e < m.taskExperts; e++) {
        const name = `experts.${task.name}.${l}.${e}`;
        experts.push({ name, stream: t, owner: l === L - 1 ? t : -1, layers: mlp(name, inWidth, m.expert) });
      }
    });
    const sharedFrom = experts.length;
    for (let e = 0; e < m.experts; e++) {
      const name = ple ? `shared_experts.${l}.${e}` : `experts.${e}`;
      experts.push({ name, stream: T, owner: -1, layers: mlp(name, inWidth, m.expert) });
    }
    const shared = Array.from({ length: m.experts }, (_, e) => sharedFrom + e);
    const gates: GateRef[] = spec.tasks.map((task, t) => {
      const own = Array.from({ length: m.taskExperts }, (_, e) => t * m.taskExperts + e);
      const chosen = [...own, ...shared];
      const name = ple ? `gates.${task.name}.${l}` : `gates.${task.name}`;
      return { stream: t, owner: l >= L - 2 ? t : -1, experts: chosen, linear: { name, inWidth, outWidth: chosen.length, activation: 'identity' } };
    });
    if (l < L - 1) {
      const all = experts.map((_, e) => e);
      gates.push({ stream: T, owner: -1, experts: all, linear: { name: `shared_gates.${l}`, inWidth, outWidth: all.length, activation: 'identity' } });
    }
    return { experts, gates };
  });
  const towers = spec.tasks.map((task) => {
    const hidden = mlp(`towers.${task.name}`, width, m.tower);
    const last = hidden.length > 0 ? hidden[hidden.length - 1].outWidth : width;
    hidden.push({ name: `towers.${task.name}.${hidden.length}`, inWidth: last, outWidth: task.outputs, activation: outputActivation(task.loss) });
    return hidden;
  });
  return { tasks: T, width, levels, towers };
}

/** Every Linear layer of the structure with its segment owner (−1 shared), in the model's natural order. */
export function mixtureLinears(s: MixtureStructure): { linear: LinearRef; owner: number }[] {
  const out: { linear: LinearRef; owner: number }[] = [];
  for (const level of s.levels) {
    for (const e of level.experts) for (const linear of e.layers) out.push({ linear, owner: e.owner });
    for (const g of level.gates) out.push({ linear: g.linear, owner: g.owner });
  }
  s.towers.forEach((tower, t) => tower.forEach((linear) => out.push({ linear, owner: t })));
  return out;
}
