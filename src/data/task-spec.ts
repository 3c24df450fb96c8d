/**
 * What a task is: which column it predicts, with which loss, and (for
 * classification) optionally which classes in which order.
 *
 * On the command line: `column:loss`, `column:loss:classA|classB|classC`, or with a
 * task name different from the column, `name=column:loss[:classes]`.
 */
import { LOSS_KINDS, type LossKind } from '../kernels/types.js';
import { UserError } from '../util/errors.js';

export interface TaskSpec {
  /** Task name (head name, metric prefix). Defaults to the column name. */
  name: string;
  /** The column holding the task's labels. */
  column: string;
  loss: LossKind;
  /**
   * Classification only: the classes, label index order. For bce/bce_with_logits
   * exactly two, the second being the positive class (target 1).
   */
  classes?: string[];
}

/** Losses whose targets are class labels (the rest are regression). */
export const CLASSIFICATION_LOSSES: readonly LossKind[] = ['cross_entropy', 'bce_with_logits', 'bce'];

export function isClassification(loss: LossKind): boolean {
  return loss === 'cross_entropy' || loss === 'bce_with_logits' || loss === 'bce';
}

export function isBinary(loss: LossKind): boolean {
  return loss === 'bce_with_logits' || loss === 'bce';
}

const FORMAT = 'expected column:loss, column:loss:classA|classB|... or name=column:loss (e.g. species:cross_entropy)';

/** Parses a task option such as `Sex:bce_with_logits:FEMALE|MALE` (`optionName` is e.g. `--task`). */
export function parseTaskSpec(text: string, optionName: string): TaskSpec {
  const where = `${optionName} ${text}`;
  const firstColon = text.indexOf(':');
  if (firstColon < 0) throw new UserError(`${where}: no loss given; ${FORMAT}`);

  let name: string | undefined;
  let rest = text;
  const eq = text.indexOf('=');
  if (eq >= 0 && eq < firstColon) {
    name = text.slice(0, eq).trim();
    rest = text.slice(eq + 1);
    if (name === '') throw new UserError(`${where}: empty task name before "="; ${FORMAT}`);
  }

  // The loss is the first ':'-separated part (after the column) that is a loss kind,
  // so a column name may itself contain ':'.
  const parts = rest.split(':');
  let k = -1;
  for (let p = 1; p < parts.length; p++) {
    if (lossKindOf(parts[p]) !== undefined) { k = p; break; }
  }
  if (k < 0) {
    const given = parts[1].trim();
    if (given === '') throw new UserError(`${where}: no loss given; ${FORMAT}`);
    throw new UserError(`${where}: ${JSON.stringify(given)} is not one of ${LOSS_KINDS.join(', ')}${suggest(given)}`);
  }
  const column = parts.slice(0, k).join(':').trim();
  if (column === '') throw new UserError(`${where}: empty column name; ${FORMAT}`);
  const loss = lossKindOf(parts[k])!;
  const spec: TaskSpec = { name: name ?? column, column, loss };
  if (k + 1 < parts.length) {
    const list = parts.slice(k + 1).join(':');
    if (list.trim() === '') throw new UserError(`${where}: empty class list after "${parts[k]}:"; ${FORMAT}`);
    spec.classes = list.split('|').map((c) => c.trim());
  }
  checkTaskSpec(spec, where);
  return spec;
}

/**
 * Checks a TaskSpec's own consistency (also for specs built in code);
 * `where` prefixes messages (e.g. `--task sex:bce` or a config file name).
 */
export function checkTaskSpec(spec: TaskSpec, where: string): void {
  if (!spec.name) throw new UserError(`${where}: the task needs a name`);
  if (!spec.column) throw new UserError(`${where}: task ${JSON.stringify(spec.name)} needs a column`);
  if (!LOSS_KINDS.includes(spec.loss)) {
    throw new UserError(`${where}: loss ${JSON.stringify(spec.loss)} of task ${JSON.stringify(spec.name)} is not one of ${LOSS_KINDS.join(', ')}`);
  }
  if (spec.classes === undefined) return;
  const task = `task ${JSON.stringify(spec.name)}`;
  if (!isClassification(spec.loss)) {
    throw new UserError(`${where}: ${task} has loss ${spec.loss}, a regression loss, so it takes no class list (classes are for ${CLASSIFICATION_LOSSES.join(', ')})`);
  }
  const seen = new Set<string>();
  for (const c of spec.classes) {
    if (c === '') throw new UserError(`${where}: ${task} has an empty class name in its class list`);
    if (seen.has(c)) throw new UserError(`${where}: ${task} lists class ${JSON.stringify(c)} twice`);
    seen.add(c);
  }
  if (isBinary(spec.loss) && spec.classes.length !== 2) {
    throw new UserError(
      `${where}: ${task} uses ${spec.loss}, which needs exactly 2 classes (negative|positive), ` +
      `got ${spec.classes.length}: ${spec.classes.join(', ')}`);
  }
  if (spec.loss === 'cross_entropy' && spec.classes.length < 2) {
    throw new UserError(`${where}: ${task} uses cross_entropy, which needs at least 2 classes, got ${spec.classes.length}: ${spec.classes.join(', ')}`);
  }
}

/** Loss kinds are matched case-insensitively, with '-' accepted for '_'. */
function lossKindOf(s: string): LossKind | undefined {
  const t = s.trim().toLowerCase().replace(/-/g, '_');
  return (LOSS_KINDS as readonly string[]).includes(t) ? (t as LossKind) : undefined;
}

function suggest(given: string): string {
  const squash = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, '');
  const g = squash(given);
  const hit = LOSS_KINDS.find((l) => squash(l) === g);
  return hit ? ` (did you mean ${hit}?)` : '';
}
