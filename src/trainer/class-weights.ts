/**
 * Class weights of classification tasks (config `classWeights`, flag
 * `--class-weight`), as PyTorch's losses take them:
 *
 * - cross_entropy: one weight per class, torch.nn.CrossEntropyLoss(weight=w):
 *   the batch loss is Σ w[y_i]·ℓ_i / Σ w[y_i] over its labelled rows (the
 *   denominator is the whole batch's, however it is sharded);
 * - bce_with_logits (and bce, on its probability): one weight, the positive
 *   class's, torch.nn.BCEWithLogitsLoss(pos_weight=p):
 *   ℓ = −[p·y·log σ + (1−y)·log(1−σ)], still averaged over the labelled rows.
 *
 * A task's setting is "balanced", a list (one weight per class; for a binary
 * task the one pos_weight) or an object of class name → weight (classes left
 * out weigh 1; a binary task names its positive class). "balanced" is
 * scikit-learn's n / (n_classes · n_c) over the training split's labelled rows;
 * for a binary task that makes pos_weight = n_negative / n_positive. Every
 * setting resolves to plain numbers once, when the trainer is created: those
 * go to the run's config.json (and the weights file's model spec), so a
 * resumed run, `eval` and a re-run read the same numbers.
 */
import { z } from 'zod';
import type { Dataset, TaskData } from '../data/dataset.js';
import { isBinary } from '../data/task-spec.js';
import { UserError } from '../util/errors.js';

const weight = () => z.number({ error: 'a number ≥ 0' }).min(0, { error: 'a number ≥ 0' });

/** One task's setting in the config: "balanced", one weight per class, or class → weight. */
export const classWeightSchema = () => z.union([
  z.literal('balanced'),
  z.array(weight(), { error: 'a list of numbers ≥ 0' }).min(1, { error: 'a list of at least one number ≥ 0' }),
  z.record(z.string(), weight(), { error: 'an object of class: weight' }),
], { error: '"balanced", a list of weights ≥ 0 (one per class) or an object of class: weight' });

export type ClassWeightSetting = z.infer<ReturnType<typeof classWeightSchema>>;

/**
 * The settings resolved to numbers per task (`outputs` values each: one per class
 * for cross_entropy, the pos_weight for a binary task); UserError naming
 * `classWeights.<task>` for a task that does not exist or does not classify, a
 * wrong count, an unknown class, or "balanced" with a class absent from training.
 */
export function resolveClassWeights(settings: Record<string, ClassWeightSetting> | undefined, dataset: Dataset): Record<string, number[]> | undefined {
  if (settings === undefined) return undefined;
  const names = dataset.tasks.map((t) => t.name);
  const out: Record<string, number[]> = {};
  for (const [name, setting] of Object.entries(settings)) {
    const where = `classWeights.${name}`;
    const task = dataset.tasks.find((t) => t.name === name);
    if (!task) throw new UserError(`${where}: unknown task ${JSON.stringify(name)} (tasks: ${names.join(', ')})`);
    if (!task.classes) {
      throw new UserError(`${where}: task ${JSON.stringify(name)} has loss ${task.loss}, a regression loss; class weights are for cross_entropy, bce_with_logits and bce`);
    }
    const weights = setting === 'balanced' ? balanced(task, dataset.train, where)
      : Array.isArray(setting) ? listed(task, setting, where) : byClass(task, setting, where);
    checkWeights(weights, where);
    out[name] = weights;
  }
  return out;
}

/** What one weight of a task means, for messages. */
function meaning(task: TaskData): string {
  return isBinary(task.loss)
    ? `one weight, pos_weight of the positive class ${JSON.stringify(task.classes![1])} (${task.loss})`
    : `one weight per class (${task.classes!.join(', ')})`;
}

function listed(task: TaskData, list: number[], where: string): number[] {
  if (list.length !== task.outputs) {
    throw new UserError(`${where}: ${list.length} weight${list.length === 1 ? '' : 's'} given, task ${JSON.stringify(task.name)} takes ${meaning(task)}`);
  }
  return list.slice();
}

function byClass(task: TaskData, map: Record<string, number>, where: string): number[] {
  const classes = task.classes!;
  // a binary task's one weight is its positive class's (pos_weight)
  const weighted = isBinary(task.loss) ? [classes[1]] : classes;
  const out = weighted.map(() => 1);
  for (const [name, w] of Object.entries(map)) {
    const k = weighted.indexOf(name);
    if (k < 0) {
      throw new UserError(classes.includes(name)
        ? `${where}: class ${JSON.stringify(name)} is the negative class; task ${JSON.stringify(task.name)} takes ${meaning(task)}`
        : `${where}: unknown class ${JSON.stringify(name)} (classes: ${classes.join(', ')})`);
    }
    out[k] = w;
  }
  return out;
}

/** scikit-learn's "balanced": n / (n_classes · n_c) over the training split's labelled rows. */
function balanced(task: TaskData, train: Int32Array, where: string): number[] {
  const classes = task.classes!;
  const counts = new Float64Array(classes.length);
  for (const row of train) {
    const y = task.targets[row];
    if (Number.isNaN(y)) continue;
    if (isBinary(task.loss)) {
      counts[1] += y; // a soft label counts in part to each class
      counts[0] += 1 - y;
    } else counts[y]++;
  }
  const empty = counts.findIndex((c) => !(c > 0));
  if (empty >= 0) {
    throw new UserError(`${where}: "balanced" needs every class among the labelled training rows; class ${JSON.stringify(classes[empty])} has none`);
  }
  // binary: pos_weight = w_positive / w_negative = n_negative / n_positive
  if (isBinary(task.loss)) return [counts[0] / counts[1]];
  const n = counts.reduce((a, b) => a + b, 0);
  return Array.from(counts, (c) => n / (classes.length * c));
}

function checkWeights(weights: number[], where: string): void {
  const bad = weights.find((w) => !Number.isFinite(w) || w < 0);
  if (bad !== undefined) throw new UserError(`${where}: ${bad} is not a finite number ≥ 0`);
  if (!weights.some((w) => w > 0)) throw new UserError(`${where}: every weight is 0, so the task would not train; give at least one weight > 0`);
}

/**
 * The weighted-mean denominators of cross_entropy tasks: per task its class
 * weights in float32 (what the loss kernel multiplies by), or null when the
 * batch mean stays over the labelled count (no weights, or pos_weight).
 */
export function meanWeights(tasks: readonly { loss: string; classWeights?: number[] }[]): (Float32Array | null)[] {
  return tasks.map((t) => (t.loss === 'cross_entropy' && t.classWeights ? Float32Array.from(t.classWeights) : null));
}

/**
 * `--class-weight species=balanced`, `species=1,2,0.5`, `species=Gentoo:2`,
 * `sex=3`, several tasks in one (`species=balanced,sex=3`): added to `previous`.
 */
export function parseClassWeights(text: string, previous: Record<string, ClassWeightSetting> = {}, option = '--class-weight'): Record<string, ClassWeightSetting> {
  const out = { ...previous };
  const fail = (why: string): never => {
    throw new UserError(`${option} ${text}: ${why}; expected task=balanced, task=w1,w2,... or task=class:weight,... (e.g. species=balanced)`);
  };
  let task: string | undefined;
  let values: string[] = [];
  const finish = () => {
    if (task === undefined) return;
    if (values.length === 1 && values[0] === 'balanced') {
      out[task] = 'balanced';
      return;
    }
    const number = (v: string) => {
      const n = Number(v);
      return v === '' || !Number.isFinite(n) || n < 0 ? fail(`${JSON.stringify(v)} is not a number ≥ 0`) : n;
    };
    const named = values.filter((v) => v.includes(':'));
    if (named.length === 0) out[task] = values.map(number);
    else if (named.length === values.length) {
      out[task] = Object.fromEntries(values.map((v) => {
        const colon = v.lastIndexOf(':');
        return [v.slice(0, colon).trim(), number(v.slice(colon + 1).trim())];
      }));
    } else fail(`task ${task} mixes weights with class:weight pairs`);
  };
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq >= 0) {
      finish();
      task = part.slice(0, eq).trim();
      if (task === '') fail('a task name before "=" is missing');
      values = [part.slice(eq + 1).trim()];
    } else if (task === undefined) fail(`${JSON.stringify(part)} names no task`);
    else values.push(part.trim());
  }
  finish();
  return out;
}
