import { ACTIVATIONS, LOSS_KINDS, type Activation, type LossKind } from '../kernels/types.js';
import { UserError } from '../util/errors.js';

/** A fully connected layer: `units` outputs followed by `activation`. */
export interface LayerSpec {
  units: number;
  activation: Activation;
}

/** One task: its head on top of the shared trunk, its loss and its loss weight. */
export interface TaskModelSpec {
  name: string;
  loss: LossKind;
  /** Width of the head's output layer (classes for cross_entropy, else usually 1). */
  outputs: number;
  /** Optional hidden layer between the trunk and the output layer. */
  hidden?: LayerSpec;
  /** Multiplies the task's loss (default 1). */
  weight: number;
  /**
   * Class weights, `outputs` values ≥ 0 (absent: none). cross_entropy: one per class,
   * torch.nn.CrossEntropyLoss(weight=...) — a weighted mean over the labelled rows;
   * bce_with_logits and bce: pos_weight per output, BCEWithLogitsLoss(pos_weight=...).
   */
  classWeights?: number[];
}

/** How the tasks share parameters: one trunk and a head per task, or a mixture of experts. */
export type Architecture = 'shared' | 'mmoe' | 'ple';
export const ARCHITECTURES: readonly Architecture[] = ['shared', 'mmoe', 'ple'];

/**
 * A mixture-of-experts model (mixture.ts): MMoE (Ma et al., KDD 2018) or PLE
 * (Tang et al., RecSys 2020; CGC is PLE with one level). Its trunk is empty and
 * its tasks have no `hidden` layer: each task has a tower instead.
 */
export interface MixtureSpec {
  architecture: 'mmoe' | 'ple';
  /** mmoe: the experts every gate weighs; ple: the shared experts of each level */
  experts: number;
  /** ple: each task's own experts per level; mmoe: 0 */
  taskExperts: number;
  /** ple: extraction levels (1 = CGC); mmoe: 1 */
  levels: number;
  /** every expert's layers (an MLP); the last width is the width of every gated mixture */
  expert: LayerSpec[];
  /** every tower's hidden layers, before its output layer */
  tower: LayerSpec[];
}

export interface ModelSpec {
  inputWidth: number;
  trunk: LayerSpec[];
  tasks: TaskModelSpec[];
  /** absent: the shared architecture (trunk and heads) */
  mixture?: MixtureSpec;
}

/** The spec's architecture name. */
export function architectureOf(spec: ModelSpec): Architecture {
  return spec.mixture?.architecture ?? 'shared';
}

/** bce takes probabilities, so its head ends in a sigmoid; every other loss takes raw outputs. */
export function outputActivation(loss: LossKind): Activation {
  return loss === 'bce' ? 'sigmoid' : 'identity';
}

/** Width of the representation the heads read: the last trunk layer, or the input. */
export function trunkOutputWidth(spec: ModelSpec): number {
  return spec.trunk.length > 0 ? spec.trunk[spec.trunk.length - 1].units : spec.inputWidth;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function checkPositiveInt(value: unknown, where: string): void {
  if (!Number.isInteger(value) || (value as number) < 1) {
    throw new UserError(`${where}: ${JSON.stringify(value)} is not a positive integer`);
  }
}

function checkLayer(layer: LayerSpec, where: string): void {
  checkPositiveInt(layer.units, `${where}.units`);
  if (!ACTIVATIONS.includes(layer.activation)) {
    throw new UserError(`${where}.activation: ${JSON.stringify(layer.activation)} is not one of ${ACTIVATIONS.join(', ')}`);
  }
}

function checkClassWeights(task: TaskModelSpec, where: string): void {
  const w = task.classWeights;
  if (task.loss !== 'cross_entropy' && task.loss !== 'bce_with_logits' && task.loss !== 'bce') {
    throw new UserError(`${where}: task ${JSON.stringify(task.name)} has loss ${task.loss}, a regression loss, so it takes no class weights`);
  }
  if (!Array.isArray(w) || w.length !== task.outputs) {
    throw new UserError(`${where}: ${JSON.stringify(w)} is not a list of ${task.outputs} weights (one per ${task.loss === 'cross_entropy' ? 'class' : 'output'})`);
  }
  const bad = w.find((v) => typeof v !== 'number' || !Number.isFinite(v) || v < 0);
  if (bad !== undefined) throw new UserError(`${where}: ${JSON.stringify(bad)} is not a finite number ≥ 0`);
}

/** Throws a UserError naming the field when the spec cannot describe a model. */
export function validateModelSpec(spec: ModelSpec): ModelSpec {
  checkPositiveInt(spec.inputWidth, 'model.inputWidth');
  spec.trunk.forEach((layer, i) => checkLayer(layer, `model.trunk[${i}]`));
  if (spec.tasks.length === 0) throw new UserError('model.tasks: at least one task is needed');
  const seen = new Set<string>();
  spec.tasks.forEach((task, i) => {
    const where = `model.tasks[${i}]`;
    if (!NAME.test(task.name)) {
      throw new UserError(`${where}.name: ${JSON.stringify(task.name)} is not a valid task name (letters, digits and _, not starting with a digit)`);
    }
    if (seen.has(task.name)) throw new UserError(`${where}.name: task ${JSON.stringify(task.name)} appears twice`);
    seen.add(task.name);
    if (!LOSS_KINDS.includes(task.loss)) {
      throw new UserError(`${where}.loss: ${JSON.stringify(task.loss)} is not one of ${LOSS_KINDS.join(', ')}`);
    }
    checkPositiveInt(task.outputs, `${where}.outputs`);
    if (task.loss === 'cross_entropy' && task.outputs < 2) {
      throw new UserError(`${where}.outputs: cross_entropy needs at least 2 classes, got ${task.outputs}`);
    }
    if (task.hidden) checkLayer(task.hidden, `${where}.hidden`);
    if (!Number.isFinite(task.weight) || task.weight < 0) {
      throw new UserError(`${where}.weight: ${JSON.stringify(task.weight)} is not a finite number ≥ 0`);
    }
    if (task.classWeights !== undefined) checkClassWeights(task, `${where}.classWeights`);
    if (spec.mixture && task.hidden) {
      throw new UserError(`${where}.hidden: a ${spec.mixture.architecture} model gives each task a tower (model.mixture.tower), not a hidden head layer`);
    }
  });
  if (spec.mixture) validateMixture(spec);
  return spec;
}

function validateMixture(spec: ModelSpec): void {
  const m = spec.mixture!;
  if (m.architecture !== 'mmoe' && m.architecture !== 'ple') {
    throw new UserError(`model.mixture.architecture: ${JSON.stringify(m.architecture)} is not one of mmoe, ple`);
  }
  if (spec.trunk.length > 0) throw new UserError(`model.trunk: a ${m.architecture} model has no shared trunk (its experts replace it); got ${spec.trunk.length} layers`);
  checkPositiveInt(m.experts, 'model.mixture.experts');
  checkPositiveInt(m.levels, 'model.mixture.levels');
  if (m.architecture === 'mmoe') {
    if (m.taskExperts !== 0) throw new UserError(`model.mixture.taskExperts: an mmoe model has no task experts (got ${JSON.stringify(m.taskExperts)}); use ple`);
    if (m.levels !== 1) throw new UserError(`model.mixture.levels: an mmoe model has one level (got ${JSON.stringify(m.levels)}); use ple`);
  } else {
    checkPositiveInt(m.taskExperts, 'model.mixture.taskExperts');
  }
  if (!Array.isArray(m.expert) || m.expert.length === 0) throw new UserError('model.mixture.expert: an expert needs at least one layer');
  m.expert.forEach((layer, i) => checkLayer(layer, `model.mixture.expert[${i}]`));
  if (!Array.isArray(m.tower)) throw new UserError('model.mixture.tower: not a list of layers');
  m.tower.forEach((layer, i) => checkLayer(layer, `model.mixture.tower[${i}]`));
}
