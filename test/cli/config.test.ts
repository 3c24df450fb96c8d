import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { configJsonSchema, mergeConfigs, readConfigFile, validateConfig, type CliConfig } from '../../src/cli/config.js';
import { resolveConfig } from '../../src/trainer/config.js';

/** The complete config a run starts from (what the CLI's completeConfig did). */
const completeConfig = (c: CliConfig) => resolveConfig(c, 'config');
import { addDataOptions, addTrainingOptions, commandConfig, type FlagValues } from '../../src/cli/flags.js';

const LOSSES = 'cross_entropy, bce_with_logits, bce, mse, l1, smooth_l1';

describe('config file validation: every field names its path, value and what was expected', () => {
  const cases: [string, unknown, string | RegExp][] = [
    ['tasks[].loss', { data: { path: 'x.csv' }, tasks: [{ column: 'a', loss: 'mse' }, { column: 'b', loss: 'crossentropy' }] },
      `run.json: tasks[1].loss: "crossentropy" is not one of ${LOSSES} (did you mean "cross_entropy"?)`],
    ['tasks[].loss missing', { tasks: [{ column: 'a' }] }, `run.json: tasks[0].loss: missing; expected one of ${LOSSES}`],
    ['tasks[].name', { tasks: [{ name: '2nd', loss: 'mse' }] }, 'run.json: tasks[0].name: "2nd" is not a task name (letters, digits and _, not starting with a digit)'],
    ['tasks[].column', { tasks: [{ column: '', loss: 'mse' }] }, 'run.json: tasks[0].column: "" is not a column name'],
    ['tasks[].classes', { tasks: [{ column: 'a', loss: 'bce', classes: ['x'] }] }, 'run.json: tasks[0].classes: ["x"] is not a list of at least 2 class names'],
    ['tasks[] without name or column', { tasks: [{ loss: 'mse' }] }, 'run.json: tasks[0]: give a name or a column'],
    ['tasks[] column that is no task name', { tasks: [{ column: 'Body Mass (g)', loss: 'mse' }] }, /tasks\[0\]: column "Body Mass \(g\)" is not a valid task name; give the task a "name"/],
    ['tasks', { tasks: [] }, 'run.json: tasks: [] is not a list of at least one task'],
    ['tasks type', { tasks: { a: 1 } }, 'run.json: tasks: {"a":1} is not a list of tasks'],
    ['data.path', { data: { path: 3 } }, 'run.json: data.path: 3 is not a file path'],
    ['data.format', { data: { format: 'xlsx' } }, 'run.json: data.format: "xlsx" is not one of csv, json, jsonl, npy'],
    ['data.features', { data: { features: 'a,b' } }, 'run.json: data.features: "a,b" is not a list of strings'],
    ['data.builtin', { data: { builtin: 'iris' } }, 'run.json: data.builtin: "iris" is not one of penguins'],
    ['data.synthetic.rows', { data: { synthetic: { rows: 0 } } }, 'run.json: data.synthetic.rows: 0 is not a positive integer'],
    ['data.synthetic.kinds', { data: { synthetic: { kinds: 'binary' } } }, /run\.json: data\.synthetic\.kinds: "binary" is not/],
    ['validation', { validation: 1 }, 'run.json: validation: 1 is not a number in [0, 1)'],
    ['model.trunk', { model: { trunk: [64, 0] } }, 'run.json: model.trunk[1]: 0 is not a positive integer'],
    ['model.activation', { model: { activation: 'swish' } }, 'run.json: model.activation: "swish" is not one of identity, relu, tanh, sigmoid, gelu'],
    ['model.heads', { model: { heads: { sex: { hidden: { units: 'many' } } } } }, 'run.json: model.heads.sex.hidden.units: "many" is not a positive integer'],
    ['model.architecture', { model: { architecture: 'moe' } }, 'run.json: model.architecture: "moe" is not one of shared, mmoe, ple (did you mean "mmoe"?)'],
    ['model.expert', { model: { architecture: 'mmoe', expert: [] } }, 'run.json: model.expert: [] is not a list of at least one layer width'],
    ['model.taskExperts with mmoe', { model: { architecture: 'mmoe', taskExperts: 2 } }, /run\.json: model\.taskExperts: only for architecture ple \(model\.architecture is "mmoe"\)/],
    ['taskWeights', { taskWeights: { sex: -1 } }, 'run.json: taskWeights.sex: -1 is not a number ≥ 0'],
    ['taskLr', { taskLr: { sex: 0 } }, 'run.json: taskLr.sex: 0 is not a number > 0'],
    ['classWeights', { classWeights: { species: [1, -2, 1] } }, 'run.json: classWeights.species[1]: -2 is not a number ≥ 0'],
    ['strategy', { strategy: 'pcgrd' }, /^run\.json: strategy: "pcgrd" is not one of sum, sequential, .*pcgrad.* \(did you mean "pcgrad"\?\)$/],
    ['strategyOptions', { strategyOptions: { c: true } }, 'run.json: strategyOptions.c: true is not a number, a list of numbers or a string'],
    ['weighting', { weighting: 'pcgrad' }, /^run\.json: weighting: "pcgrad" is not one of .*uncertainty/],
    ['sequentialMode', { sequentialMode: 'warm' }, 'run.json: sequentialMode: "warm" is not one of fresh, stale'],
    ['plan', { plan: 'fast' }, 'run.json: plan: "fast" is not one of auto, fused, per-task'],
    ['optimizer.name', { optimizer: { name: 'rmsprop' } }, 'run.json: optimizer.name: "rmsprop" is not one of sgd, adam, adamw'],
    ['optimizer.lr', { optimizer: { lr: -0.1 } }, 'run.json: optimizer.lr: -0.1 is not a number > 0'],
    ['optimizer.momentum', { optimizer: { momentum: 'high' } }, 'run.json: optimizer.momentum: "high" is not a number ≥ 0'],
    ['optimizer.dampening', { optimizer: { dampening: 2 } }, 'run.json: optimizer.dampening: 2 is not a number in [0, 1]'],
    ['optimizer.nesterov', { optimizer: { nesterov: 'yes' } }, 'run.json: optimizer.nesterov: "yes" is not true or false'],
    ['optimizer.weightDecay', { optimizer: { weightDecay: -1 } }, 'run.json: optimizer.weightDecay: -1 is not a number ≥ 0'],
    ['optimizer.betas', { optimizer: { betas: [0.9] } }, 'run.json: optimizer.betas: [0.9] is not two numbers [beta1, beta2] in [0, 1)'],
    ['optimizer.betas[1]', { optimizer: { betas: [0.9, 1] } }, 'run.json: optimizer.betas[1]: 1 is not a number in [0, 1)'],
    ['optimizer.eps', { optimizer: { eps: 0 } }, 'run.json: optimizer.eps: 0 is not a number > 0'],
    ['optimizer unknown key', { optimizer: { learning_rate: 0.1 } }, 'run.json: optimizer: unknown key "learning_rate"; known keys: name, lr, momentum, dampening, nesterov, weightDecay, betas, eps'],
    ['schedule.kind', { schedule: { kind: 'linear' } }, 'run.json: schedule.kind: "linear" is not one of constant, step, cosine'],
    ['schedule.stepSize', { schedule: { kind: 'step' } }, 'run.json: schedule.stepSize: missing; kind "step" needs it (a positive integer: steps between decays)'],
    ['schedule.gamma', { schedule: { kind: 'step', stepSize: 10, gamma: 0 } }, 'run.json: schedule.gamma: 0 is not a number > 0'],
    ['schedule.warmupSteps', { schedule: { kind: 'cosine', warmupSteps: 1.5 } }, 'run.json: schedule.warmupSteps: 1.5 is not a non-negative integer'],
    ['schedule.minLr', { schedule: { kind: 'cosine', minLr: -1 } }, 'run.json: schedule.minLr: -1 is not a number ≥ 0'],
    ['schedule field of another kind', { schedule: { kind: 'cosine', gamma: 0.5 } }, 'run.json: schedule.gamma: applies to kind "step", not "cosine"'],
    ['taskSchedules', { taskSchedules: { sex: { kind: 'step', stepSize: 0 } } }, 'run.json: taskSchedules.sex.stepSize: 0 is not a positive integer'],
    ['epochs', { epochs: 0 }, 'run.json: epochs: 0 is not a positive integer'],
    ['batchSize', { batchSize: 2.5 }, 'run.json: batchSize: 2.5 is not a positive integer'],
    ['shards', { shards: '2' }, 'run.json: shards: "2" is not a positive integer'],
    ['seed', { seed: -1 }, 'run.json: seed: -1 is not a non-negative integer'],
    ['workers', { workers: 0 }, 'run.json: workers: 0 is not a positive integer'],
    ['checkpointEvery', { checkpointEvery: -5 }, 'run.json: checkpointEvery: -5 is not a non-negative integer'],
    ['keepCheckpoints', { keepCheckpoints: 0 }, 'run.json: keepCheckpoints: 0 is not a positive integer'],
    ['clipGradNorm', { clipGradNorm: 0 }, 'run.json: clipGradNorm: 0 is not a number > 0'],
    ['clipPer', { clipPer: 'layer' }, 'run.json: clipPer: "layer" is not one of global, task'],
    ['onNonFinite', { onNonFinite: 'ignore' }, 'run.json: onNonFinite: "ignore" is not one of stop, skip'],
    ['initWeights', { initWeights: '' }, 'run.json: initWeights: "" is not a file path'],
    ['saveWeights', { saveWeights: 1 }, 'run.json: saveWeights: 1 is not a file path'],
    ['report', { report: 'no' }, 'run.json: report: "no" is not true or false'],
    ['name', { name: 'my run' }, 'run.json: name: "my run" is not a run name (letters, digits, ".", "=", "-" and "_")'],
    ['runsDir', { runsDir: '' }, 'run.json: runsDir: "" is not a file path'],
    ['job timeout', { jobTimeoutMs: 0 }, 'run.json: jobTimeoutMs: 0 is not a positive integer'],
    ['unknown top-level key', { epoch: 3 }, 'run.json: unknown key "epoch" (did you mean "epochs"?); known keys: $schema, name, runsDir, data, tasks, validation, model, taskWeights, taskLr, classWeights, strategy, strategyOptions, weighting, sequentialMode, plan, optimizer, schedule, taskSchedules, epochs, batchSize, shards, seed, workers, computeOn, checkpointEvery, keepCheckpoints, clipGradNorm, clipPer, onNonFinite, maxSkips, jobTimeoutMs, jobRetries, earlyStopping, keep, cluster, test, initWeights, saveWeights, report'],
    ['unknown nested key', { data: { path: 'a.csv', colums: ['a'] } }, /^run\.json: data: unknown key "colums"; known keys: path, format, features, featureNames, builtin, synthetic, kind$/],
    ['unknown task key', { tasks: [{ column: 'a', loss: 'mse', weight: 2 }] }, /^run\.json: tasks\[0\]: unknown key "weight"; known keys: name, column, loss, classes, path, targets, comment$/],
    ['several problems', { epochs: 'ten', seed: -1 }, 'run.json: epochs: "ten" is not a positive integer (and 1 more problem)'],
    ['not an object', [1, 2], 'run.json: [1,2] is not a config (a JSON object)'],
  ];
  it.each(cases)('%s', (_field, value, message) => {
    let error: Error | undefined;
    try {
      validateConfig(value, 'run.json');
    } catch (e) {
      error = e as Error;
    }
    expect(error?.name).toBe('UserError');
    if (typeof message === 'string') expect(error?.message).toBe(message);
    else expect(error?.message).toMatch(message);
  });

  it('a complete example is valid', () => {
    const config = {
      $schema: './multitask.schema.json',
      name: 'people-seq',
      runsDir: 'runs',
      data: { path: 'people.csv', format: 'csv', features: ['age', 'region:category', 'bmi'] },
      tasks: [{ name: 'income', column: 'income', loss: 'mse' }, { column: 'smoker', loss: 'bce_with_logits', classes: ['no', 'yes'] }],
      validation: 0.2,
      model: { trunk: [64, 64], activation: 'relu', heads: { smoker: { hidden: { units: 16, activation: 'gelu' } } } },
      taskWeights: { income: 1, smoker: 0.5 },
      taskLr: { income: 0.003 },
      strategy: 'sequential',
      sequentialMode: 'stale',
      weighting: 'dwa',
      strategyOptions: { temperature: 2 },
      plan: 'auto',
      optimizer: { name: 'adam', lr: 0.01, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 },
      schedule: { kind: 'cosine', warmupSteps: 100, minLr: 0.0001 },
      taskSchedules: { smoker: { kind: 'step', stepSize: 200, gamma: 0.5 } },
      epochs: 30, batchSize: 32, shards: 2, seed: 0, workers: 2,
      checkpointEvery: 500, keepCheckpoints: 3, clipGradNorm: 1, clipPer: 'task', onNonFinite: 'skip',
      initWeights: 'start.safetensors', saveWeights: 'out.safetensors', report: true,
    };
    expect(validateConfig(config, 'run.json')).toEqual(config);
  });

  it('the README\'s example config is valid', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const start = readme.indexOf('```json\n', readme.indexOf('## Config file')) + 8;
    const example = JSON.parse(readme.slice(start, readme.indexOf('```', start)));
    expect(validateConfig(example, 'README.md')).toEqual(example);
    expect(Object.keys(example)).toEqual(expect.arrayContaining(['data', 'tasks', 'model', 'strategy', 'optimizer', 'schedule', 'taskSchedules', 'epochs']));
  });

  it('reads a file: BOM, relative paths against its directory, JSON errors with line and column', () => {
    const dir = mkdtempSync(join(tmpdir(), 'multitask-config-'));
    const file = join(dir, 'run.json');
    writeFileSync(file, '\ufeff{"data": {"path": "data/x.csv"}, "tasks": [{"column": "y", "loss": "mse", "path": "../y.csv"}], "initWeights": "/abs/w.safetensors"}');
    const c = readConfigFile(file);
    expect((c.data as { path?: string } | undefined)?.path).toBe(join(dir, 'data/x.csv'));
    expect(c.tasks?.[0].path).toBe(resolve(dir, '../y.csv'));
    expect(c.initWeights).toBe('/abs/w.safetensors');
    writeFileSync(file, '{\n  "epochs": 3,\n}\n');
    expect(() => readConfigFile(file)).toThrow(/run\.json: not valid JSON at line 3, column 1/);
    expect(() => readConfigFile(join(dir, 'nope.json'))).toThrow(/--config .*nope\.json: no such file/);
  });

  it('data consistency is checked when the config is completed', () => {
    expect(() => completeConfig({ data: { path: 'a.csv' } })).toThrow(/--data a\.csv: say which columns to predict/);
    expect(() => completeConfig({ tasks: [{ column: 'a', loss: 'mse' }] })).toThrow(/needs a data file/);
    expect(() => completeConfig({ data: { path: 'x.npy' }, tasks: [{ name: 'y', loss: 'mse' }] })).toThrow(/tasks\[0\]: \.npy data needs the task's target file in "targets"/);
    expect(() => completeConfig({ data: { path: 'x.csv' }, tasks: [{ column: 'y', loss: 'mse', targets: 'y.npy' }] })).toThrow(/tasks\[0\]\.targets: only for \.npy data/);
    expect(() => completeConfig({ data: { path: 'x.csv', builtin: 'penguins' } })).toThrow(/data: give one of path/);
    const c = completeConfig({});
    expect(c).toMatchObject({ data: { builtin: 'penguins' }, strategy: 'sum', epochs: 30, batchSize: 32, optimizer: { name: 'adam', lr: 0.01 }, schedule: { kind: 'constant' } });
  });
});

/** Parses flags the way `train` does and returns the merged config. */
function configFrom(args: string[]): CliConfig {
  let config: CliConfig | undefined;
  const cmd = new Command('train').exitOverride();
  addDataOptions(cmd);
  addTrainingOptions(cmd);
  cmd.option('--name <name>').option('--no-report').action((o: FlagValues, command: Command) => {
    config = commandConfig(o, command);
  });
  cmd.parse(args, { from: 'user' });
  return config!;
}

describe('flags override the file (only flags given on the command line)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'multitask-flags-'));
  const file = join(dir, 'run.json');
  writeFileSync(file, JSON.stringify({
    data: { path: 'p.csv', features: ['a', 'b'] },
    tasks: [{ column: 'y', loss: 'mse' }],
    epochs: 12,
    seed: 7,
    strategy: 'sequential',
    optimizer: { name: 'sgd', lr: 0.1, momentum: 0.9 },
    schedule: { kind: 'cosine', warmupSteps: 5 },
    model: { trunk: [32], activation: 'tanh' },
    report: false,
  }));

  it('the file alone', () => {
    const c = configFrom(['--config', file]);
    expect(c).toMatchObject({ epochs: 12, seed: 7, strategy: 'sequential', optimizer: { name: 'sgd', lr: 0.1, momentum: 0.9 }, report: false });
    expect((c.data as { path?: string } | undefined)?.path).toBe(join(dir, 'p.csv'));
  });

  it('given flags win; defaults of flags not given never do', () => {
    const c = configFrom(['--config', file, '--epochs', '3', '--lr', '0.5', '--trunk', '8,8', '--min-lr', '0.001', '--task', 'z:cross_entropy']);
    expect(c.epochs).toBe(3);
    expect(c.seed).toBe(7);
    expect(c.strategy).toBe('sequential');
    expect(c.optimizer).toEqual({ name: 'sgd', lr: 0.5, momentum: 0.9 });
    expect(c.model).toEqual({ trunk: [8, 8], activation: 'tanh' });
    expect(c.schedule).toEqual({ kind: 'cosine', warmupSteps: 5, minLr: 0.001 });
    expect(c.tasks).toEqual([{ name: 'z', column: 'z', loss: 'cross_entropy' }]);
    expect(c.report).toBe(false);
  });

  it('the mixture flags map onto model.architecture, experts, taskExperts, levels, expert and tower', () => {
    const c = configFrom(['--architecture', 'ple', '--experts', '3', '--task-experts', '2', '--levels', '1', '--expert-widths', '16,8', '--tower-widths', 'none']);
    expect(c.model).toEqual({ architecture: 'ple', experts: 3, taskExperts: 2, levels: 1, expert: [16, 8], tower: [] });
    expect(configFrom(['--architecture', 'mmoe', '--tower-widths', '4']).model).toEqual({ architecture: 'mmoe', tower: [4] });
    expect(() => configFrom(['--architecture', 'moe'])).toThrow(/--architecture/);
  });

  it('a new optimizer or schedule kind drops the old one\'s fields; --data replaces the source', () => {
    const c = configFrom(['--config', file, '--optimizer', 'adam', '--schedule', 'step', '--step-size', '4', '--data', 'q.csv', '--no-report']);
    expect(c.optimizer).toEqual({ name: 'adam', lr: 0.1 });
    expect(c.schedule).toEqual({ kind: 'step', stepSize: 4 });
    expect(c.data).toEqual({ path: resolve('q.csv'), features: ['a', 'b'] });
    expect(c.report).toBe(false);
  });

  it('mergeConfigs on plain objects', () => {
    expect(mergeConfigs({ epochs: 1, model: { trunk: [4] } }, { model: { activation: 'gelu' } })).toEqual({ epochs: 1, model: { trunk: [4], activation: 'gelu' } });
  });

  it('a schedule flag without a schedule is an error', () => {
    expect(() => configFrom(['--warmup-steps', '3'])).toThrow(/--warmup-steps: needs a schedule \(--schedule cosine\)/);
  });

  it('--class-weight (repeatable, several tasks at once) sets classWeights, replacing the file\'s', () => {
    const c = configFrom(['--config', file, '--class-weight', 'species=balanced,z=0.5,2', '--class-weight', 'sex=3']);
    expect(c.classWeights).toEqual({ species: 'balanced', z: [0.5, 2], sex: [3] });
    expect(() => configFrom(['--class-weight', 'species=-1'])).toThrow(/^--class-weight species=-1: "-1" is not a number ≥ 0;/);
  });
});

// ---------------------------------------------------------------------------
// The JSON Schema: checked structurally, and used by a small validator for the
// keywords it contains, which must accept good configs and reject bad ones.

type Schema = Record<string, unknown>;

function validates(schema: Schema, value: unknown): boolean {
  const s = schema;
  if (s.anyOf) return (s.anyOf as Schema[]).some((sub) => validates(sub, value));
  if (s.enum && !(s.enum as unknown[]).includes(value)) return false;
  switch (s.type) {
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
      const v = value as Record<string, unknown>;
      const props = (s.properties ?? {}) as Record<string, Schema>;
      for (const r of (s.required ?? []) as string[]) if (!(r in v)) return false;
      for (const [k, x] of Object.entries(v)) {
        if (props[k]) {
          if (!validates(props[k], x)) return false;
        } else if (s.additionalProperties === false) return false;
        else if (typeof s.additionalProperties === 'object' && !validates(s.additionalProperties as Schema, x)) return false;
      }
      return true;
    }
    case 'array': {
      if (!Array.isArray(value)) return false;
      if (typeof s.minItems === 'number' && value.length < s.minItems) return false;
      if (typeof s.maxItems === 'number' && value.length > s.maxItems) return false;
      const prefix = (s.prefixItems ?? []) as Schema[];
      return value.every((x, i) => (i < prefix.length ? validates(prefix[i], x) : s.items ? validates(s.items as Schema, x) : true));
    }
    case 'string':
      return typeof value === 'string' && (typeof s.minLength !== 'number' || value.length >= s.minLength)
        && (typeof s.pattern !== 'string' || new RegExp(s.pattern, 'u').test(value));
    case 'integer':
    case 'number': {
      if (typeof value !== 'number' || (s.type === 'integer' && !Number.isInteger(value))) return false;
      if (typeof s.minimum === 'number' && value < s.minimum) return false;
      if (typeof s.maximum === 'number' && value > s.maximum) return false;
      if (typeof s.exclusiveMinimum === 'number' && value <= s.exclusiveMinimum) return false;
      if (typeof s.exclusiveMaximum === 'number' && value >= s.exclusiveMaximum) return false;
      return true;
    }
    case 'boolean':
      return typeof value === 'boolean';
    default:
      return true;
  }
}

describe('the JSON Schema', () => {
  const schema = configJsonSchema();

  it('is a draft 2020-12 object schema with every field, strict', () => {
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.type).toBe('object');
    expect(schema.additionalProperties).toBe(false);
    const props = schema.properties as Record<string, Schema>;
    expect(Object.keys(props)).toEqual(expect.arrayContaining(['data', 'tasks', 'model', 'strategy', 'strategyOptions', 'optimizer', 'schedule', 'taskSchedules', 'epochs', 'batchSize', 'seed', 'workers', 'initWeights']));
    const task = (props.tasks.items as Schema);
    expect((task.properties as Record<string, Schema>).loss.enum).toEqual(['cross_entropy', 'bce_with_logits', 'bce', 'mse', 'l1', 'smooth_l1']);
    expect(task.required).toEqual(['loss']);
    expect(task.additionalProperties).toBe(false);
    expect((props.strategy.enum as string[])).toEqual(expect.arrayContaining(['sum', 'sequential', 'pcgrad', 'mgda', 'cagrad', 'upgrad']));
    expect(typeof props.epochs.description).toBe('string');
  });

  it('accepts good configs and rejects bad ones', () => {
    expect(validates(schema, { data: { path: 'a.csv' }, tasks: [{ column: 'y', loss: 'mse' }], epochs: 3, optimizer: { name: 'sgd', lr: 0.1, betas: [0.9, 0.99] } })).toBe(true);
    expect(validates(schema, { strategyOptions: { c: 0.4, w: [1, 2], s: '1,2' } })).toBe(true);
    expect(validates(schema, { tasks: [{ column: 'y', loss: 'crossentropy' }] })).toBe(false);
    expect(validates(schema, { epoch: 3 })).toBe(false);
    expect(validates(schema, { epochs: 0 })).toBe(false);
    expect(validates(schema, { validation: 1 })).toBe(false);
    expect(validates(schema, { optimizer: { betas: [0.9] } })).toBe(false);
  });
});
