/**
 * The run config file (`multitask train --config run.json`): reading it (JSON
 * errors with line and column; relative paths against the file's directory),
 * merging the flags over it, and its JSON Schema for editors. The schema
 * itself — fields, defaults, validation — is the trainer's (src/trainer/config.ts):
 * a config file is exactly what `Trainer.create` takes.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { configSchema, dropUndefined, validateConfig, type TrainerConfig } from '../trainer/config.js';
import { UserError } from '../util/errors.js';

export { dropUndefined, validateConfig };
/** A config as written (a file, the flags): the trainer's config. */
export type CliConfig = TrainerConfig;

/** The JSON Schema of the config file and of `Trainer.create`'s config (draft 2020-12). */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema(), { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return {
    ...schema,
    title: 'multitask run config',
    description: 'multitask train --config <file>, and Trainer.create(config): every field is optional; flags given on the command line override the file; a run directory\'s config.json is one too',
  };
}

/**
 * Reads and validates a config file; relative paths in it become absolute
 * (relative to the file's directory).
 */
export function readConfigFile(file: string): CliConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(`--config ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a directory, not a file' : (e as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (e) {
    const message = (e as Error).message;
    const at = /position (\d+)/.exec(message);
    let where = '';
    if (at) {
      const before = text.slice(0, Number(at[1]));
      const line = before.split('\n').length;
      where = ` at line ${line}, column ${Number(at[1]) - before.lastIndexOf('\n')}`;
    }
    throw new UserError(`${file}: not valid JSON${where} (${message})`);
  }
  return resolvePaths(validateConfig(value, file), dirname(resolve(file)));
}

/** Makes every path in the config absolute, relative to `base`. */
export function resolvePaths(c: CliConfig, base: string): CliConfig {
  const abs = (p: string | undefined) => (p === undefined || isAbsolute(p) ? p : resolve(base, p));
  const out: CliConfig = { ...c };
  if (c.data && c.data.kind !== 'arrays') out.data = { ...c.data, path: abs(c.data.path) };
  if (c.tasks) out.tasks = c.tasks.map((t) => ({ ...t, path: abs(t.path), targets: abs(t.targets) }));
  if (c.runsDir !== undefined) out.runsDir = abs(c.runsDir);
  if (c.initWeights !== undefined) out.initWeights = abs(c.initWeights);
  if (c.test !== undefined) out.test = abs(c.test);
  if (c.saveWeights !== undefined) out.saveWeights = abs(c.saveWeights);
  if (c.cluster) out.cluster = { ...c.cluster, creds: abs(c.cluster.creds), tlsCa: abs(c.cluster.tlsCa) };
  return dropUndefined(out);
}

const MERGED_OBJECTS = ['data', 'model', 'optimizer', 'schedule'] as const;

/**
 * `over` (flags) on top of `base` (the file): top-level fields replace, the
 * groups data/model/optimizer/schedule merge field by field, except that a new
 * optimizer name or schedule kind drops the fields of the old one.
 */
export function mergeConfigs(base: CliConfig, over: CliConfig): CliConfig {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue;
    if ((MERGED_OBJECTS as readonly string[]).includes(key) && base[key as keyof CliConfig] !== undefined) {
      let from = base[key as keyof CliConfig] as Record<string, unknown>;
      const v = value as Record<string, unknown>;
      if (key === 'optimizer' && v.name !== undefined && v.name !== from.name) from = from.lr === undefined ? {} : { lr: from.lr };
      if (key === 'schedule' && v.kind !== undefined && v.kind !== from.kind) from = {};
      if (key === 'data' && (v.path !== undefined || v.builtin !== undefined || v.synthetic !== undefined)) {
        from = { features: from.features, featureNames: from.featureNames };
      }
      out[key] = { ...from, ...v };
    } else out[key] = value;
  }
  return dropUndefined(out as CliConfig);
}
