/**
 * One-line messages for config problems, shared by the config file, the
 * command-line flags and `Trainer.create`: `<source>: <path>: <value> is not
 * <expected>`, unknown keys with a "did you mean", and a count of the other
 * problems. Values are shown bounded in depth and length, so a pathological
 * value (a list nested thousands deep) still gives one short line.
 */
import type { z } from 'zod';
import { UserError } from '../util/errors.js';

const MAX_SHOWN = 60;
const MAX_DEPTH = 4;
const MAX_ITEMS = 8;

/** JSON-like text of `v`, at most MAX_DEPTH levels and MAX_ITEMS items per level deep (never recursing further). */
function boundedText(v: unknown, depth: number): string {
  if (v === null || typeof v !== 'object') {
    if (typeof v === 'string') return JSON.stringify(v);
    if (typeof v === 'number') return Number.isFinite(v) ? String(v) : String(v);
    if (typeof v === 'bigint') return `${v}n`;
    if (typeof v === 'function') return 'a function';
    return String(v);
  }
  if (depth >= MAX_DEPTH) return Array.isArray(v) ? '[...]' : '{...}';
  const list = Array.isArray(v) || ArrayBuffer.isView(v);
  const entries = list ? Array.from(v as ArrayLike<unknown>).slice(0, MAX_ITEMS + 1) : Object.entries(v).slice(0, MAX_ITEMS + 1);
  const parts = entries.slice(0, MAX_ITEMS).map((e) => (list ? boundedText(e, depth + 1)
    : `${JSON.stringify((e as [string, unknown])[0])}:${boundedText((e as [string, unknown])[1], depth + 1)}`));
  if (entries.length > MAX_ITEMS) parts.push('...');
  return list ? `[${parts.join(',')}]` : `{${parts.join(',')}}`;
}

/** A value for a message: JSON-like, at most 60 characters. */
export function showValue(v: unknown): string {
  if (v === undefined) return 'missing';
  const text = boundedText(v, 0);
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN - 3)}...` : text;
}

/** `tasks[1].loss`, `taskLr.species`, `heads["my task"]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(String(key))) out += out ? `.${String(key)}` : String(key);
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v = root;
  for (const key of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0];
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j];
      d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return d[b.length];
}

/** ` (did you mean "lr"?)` for a near miss among `known`. */
export function suggestion(given: string, known: readonly string[]): string {
  const g = given.toLowerCase().replace(/[-_]/g, '');
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = editDistance(g, k.toLowerCase().replace(/[-_]/g, ''));
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best !== undefined && bestD <= Math.max(1, Math.floor(given.length / 4)) ? ` (did you mean "${best}"?)` : '';
}

/** What a default (non-customised) issue expected, as a phrase: the error map every parse uses. */
export function defaultExpected(issue: z.core.$ZodRawIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return ({ number: 'a number', int: 'an integer', string: 'a string', boolean: 'true or false', array: 'a list', object: 'an object', record: 'an object', tuple: 'a list' } as Record<string, string>)[issue.expected] ?? `of type ${issue.expected}`;
    case 'invalid_value':
      return `one of ${issue.values.map((v) => String(v)).join(', ')}`;
    case 'too_small':
      return issue.origin === 'array' ? `a list of at least ${issue.minimum}` : issue.origin === 'string' ? 'a non-empty string' : `${issue.inclusive ? '≥' : '>'} ${issue.minimum}`;
    case 'too_big':
      return issue.origin === 'array' ? `a list of at most ${issue.maximum}` : `${issue.inclusive ? '≤' : '<'} ${issue.maximum}`;
    case 'invalid_union':
      return 'a valid value';
    default:
      return 'valid';
  }
}

/** Refinements (cross-field rules) run only on a value whose fields are all valid. */
export const ONLY_IF_VALID = { when: (payload: { issues: readonly unknown[] }) => payload.issues.length === 0 };

/**
 * A failed union of objects as the issues of the branch that came closest
 * (fewest issues; the last on a tie), with paths from the root.
 */
function flatten(issue: z.core.$ZodIssue, root: unknown): z.core.$ZodIssue[] {
  const value = valueAt(root, issue.path);
  if (issue.code !== 'invalid_union' || issue.errors.length === 0 || value === null || typeof value !== 'object' || Array.isArray(value)) return [issue];
  const best = issue.errors.reduce((a, b) => (b.length <= a.length ? b : a));
  return best.flatMap((i) => flatten({ ...i, path: [...issue.path, ...i.path] } as z.core.$ZodIssue, root));
}

/** One line for a zod issue: `tasks[1].loss: "crossentropy" is not one of cross_entropy, ...`. */
function issueLine(issue: z.core.$ZodIssue, root: unknown): string {
  const where = formatPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    const known = issue.message.replace(/^known keys: /, '').split(', ');
    const key = issue.keys[0];
    const more = issue.keys.length > 1 ? ` (and ${issue.keys.slice(1).map((k) => JSON.stringify(k)).join(', ')})` : '';
    return `${where ? `${where}: ` : ''}unknown key ${JSON.stringify(key)}${suggestion(key, known)}${more}; known keys: ${known.join(', ')}`;
  }
  // a whole-config rule says it all; a field's own rule reads like any other issue
  if (issue.code === 'custom' && issue.path.length === 0) return issue.message;
  const value = valueAt(root, issue.path);
  if (value === undefined) return `${where}: missing; expected ${issue.message}`;
  const hint = issue.code === 'invalid_value' && typeof value === 'string' ? suggestion(value, issue.values.map(String)) : '';
  return `${where}: ${showValue(value)} is not ${issue.message}${hint}`;
}

/** The UserError for failed parse: `<source>: <first problem> (and n more problems)`. */
export function configError(error: z.ZodError, root: unknown, source: string): UserError {
  const issues = error.issues.flatMap((i) => flatten(i, root));
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? 's' : ''})` : '';
  return new UserError(`${source}: ${issueLine(issues[0], root)}${more}`);
}
