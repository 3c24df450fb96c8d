/**
 * The flags of `train` and `compare`, and how they map onto the config file's
 * fields: only flags actually given on the command line override the file
 * (commander's getOptionValueSource(...) === 'cli'); defaults live in the
 * config schema (src/trainer/config.ts), so a file's value is never overridden by a default.
 */
import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { parseTaskSpec } from '../data/task-spec.js';
import { ACTIVATIONS } from '../kernels/types.js';
import { ARCHITECTURES } from '../model/spec.js';
import { OPTIMIZER_NAMES } from '../optim/index.js';
import { COMPUTE_PLACES, configDefaults, DATA_FORMATS, MIXTURE_DEFAULTS, formatOf, PLAN_NAMES, SEQUENTIAL_MODES, strategyChoices } from '../trainer/config.js';
import { LR_SCHEDULE_KINDS } from '../trainer/schedule.js';
import { parseEarlyStopping } from '../trainer/early-stopping.js';
import { parseClassWeights, type ClassWeightSetting } from '../trainer/class-weights.js';
import { UserError } from '../util/errors.js';
import { dropUndefined, mergeConfigs, readConfigFile, type CliConfig } from './config.js';
import { choice, collect, finiteNumber, intList, keyValues, nonNegativeInt, positiveInt } from './parse.js';

/** Parsed flag values (what commander hands the action). */
export interface FlagValues {
  config?: string;
  data?: string;
  format?: 'csv' | 'json' | 'jsonl' | 'npy';
  task?: string[];
  features?: string[];
  validation?: number;
  trunk?: number[];
  activation?: string;
  architecture?: 'shared' | 'mmoe' | 'ple';
  experts?: number;
  taskExperts?: number;
  levels?: number;
  expertWidths?: number[];
  towerWidths?: number[];
  strategy?: string;
  strategyOption?: Record<string, string>;
  weighting?: string;
  sequentialMode?: string;
  plan?: string;
  optimizer?: 'sgd' | 'adam' | 'adamw';
  lr?: number;
  momentum?: number;
  nesterov?: boolean;
  weightDecay?: number;
  taskLr?: Record<string, number>;
  taskWeight?: Record<string, number>;
  classWeight?: Record<string, ClassWeightSetting>;
  schedule?: 'constant' | 'step' | 'cosine';
  warmupSteps?: number;
  minLr?: number;
  stepSize?: number;
  gamma?: number;
  epochs?: number;
  batchSize?: number;
  shards?: number;
  seed?: number;
  workers?: number;
  computeOn?: (typeof COMPUTE_PLACES)[number];
  name?: string;
  runsDir?: string;
  checkpointEvery?: number;
  keepCheckpoints?: number;
  onNonfinite?: 'stop' | 'skip';
  maxSkips?: number;
  clipGradNorm?: number;
  clipPer?: 'global' | 'task';
  initWeights?: string;
  saveWeights?: string;
  test?: string;
  earlyStopping?: { on: string; patience: number };
  keep?: 'best' | 'final';
  cluster?: string;
  localWorkers?: number;
  creds?: string;
  tlsCa?: string;
  clusterWaitMs?: number;
  clusterKernels?: string;
  report?: boolean;
  profile?: boolean;
  quiet?: boolean;
  json?: boolean;
  resume?: string;
  allowDataChange?: boolean;
  force?: boolean;
}

/** `key=value` pairs kept as strings (strategy options parse their own values, lists as "1,2,3"). */
function rawKeyValue(option: string) {
  return (text: string, previous: Record<string, string> = {}): Record<string, string> => {
    const eq = text.indexOf('=');
    if (eq <= 0) throw new UserError(`${option}: ${JSON.stringify(text)} is not of the form key=value (e.g. c=0.4)`);
    return { ...previous, [text.slice(0, eq).trim()]: text.slice(eq + 1).trim() };
  };
}

const d = configDefaults();

/** The data flags (train, compare). */
export function addDataOptions(cmd: Command): Command {
  return cmd
    .option('--config <file>', 'a run config file (JSON; see `multitask schema`); flags given here override it')
    .option('--data <file>', 'data file: .csv, .json (records), .jsonl or .npy feature matrix (default: built-in penguins)')
    .addOption(new Option('--format <format>', 'data format (default: from the extension)').argParser(choice('--format', DATA_FORMATS)))
    .option('--task <spec>', 'a task: column:loss[:classA|classB] or name=column:loss; for .npy data name=targets.npy:loss; repeatable', collect)
    .option('--features <columns>', 'feature columns, comma-separated (default: every non-target column); name:category forces one-hot; for .npy data, the columns\' names', collect)
    .option('--validation <fraction>', `fraction of rows held out (default ${d.validation})`, finiteNumber('--validation', (n) => n >= 0 && n < 1, 'a number in [0, 1)'))
    .option('--seed <n>', `random seed: initialisation, split, batches (default ${d.seed})`, nonNegativeInt('--seed'));
}

/** The model, strategy, optimizer and run flags (train, compare). */
export function addTrainingOptions(cmd: Command): Command {
  return cmd
    .option('--trunk <widths>', `trunk layer widths, comma-separated (default ${d.model.trunk.join(',')})`, intList('--trunk'))
    .addOption(new Option('--activation <name>', `trunk activation (default ${d.model.activation})`).argParser(choice('--activation', ACTIVATIONS)))
    .addOption(new Option('--architecture <name>', 'shared: one trunk, a head per task (default); mmoe: experts, a gate and a tower per task; ple: task and shared experts per level').argParser(choice('--architecture', ARCHITECTURES)))
    .option('--experts <n>', `mmoe: experts (default ${MIXTURE_DEFAULTS.mmoeExperts}); ple: shared experts per level (default ${MIXTURE_DEFAULTS.pleExperts})`, positiveInt('--experts'))
    .option('--task-experts <n>', `ple: each task's own experts per level (default ${MIXTURE_DEFAULTS.taskExperts})`, positiveInt('--task-experts'))
    .option('--levels <n>', `ple: extraction levels, 1 = CGC (default ${MIXTURE_DEFAULTS.levels})`, positiveInt('--levels'))
    .option('--expert-widths <widths>', `mmoe, ple: each expert's layer widths, comma-separated (default ${MIXTURE_DEFAULTS.expert.join(',')})`, intList('--expert-widths'))
    .option('--tower-widths <widths>', `mmoe, ple: each tower's hidden widths, comma-separated; "none" for none (default ${MIXTURE_DEFAULTS.tower.join(',')})`,
      (v: string) => (v.trim() === 'none' ? [] : intList('--tower-widths')(v)))
    .addOption(new Option('--strategy <name>', `sum: one step on Σ w·L; sequential: one step per task; or a gradient strategy (pcgrad, mgda, cagrad, upgrad, ...) (default ${d.strategy})`)
      .argParser((v) => choice('--strategy', strategyChoices())(v)))
    .option('--strategy-option <key=value>', 'an option of the strategy (or weighting), e.g. c=0.4 for cagrad; repeatable', rawKeyValue('--strategy-option'))
    .option('--weighting <name>', 'with --strategy sequential: a loss weighting (uncertainty, dwa, rlw, gradnorm, fixed)')
    .addOption(new Option('--sequential-mode <mode>', `fresh: each task at the parameters the previous task left; stale: all at the same parameters (default ${d.sequentialMode})`).argParser(choice('--sequential-mode', SEQUENTIAL_MODES)))
    .addOption(new Option('--plan <plan>', `execution plan: fused (one trunk pass for all tasks, sum only), per-task, auto (default ${d.plan})`).argParser(choice('--plan', PLAN_NAMES)))
    .addOption(new Option('--optimizer <name>', `optimizer (default ${d.optimizer.name})`).argParser(choice('--optimizer', OPTIMIZER_NAMES)))
    .option('--lr <rate>', `learning rate (default ${d.optimizer.lr})`, finiteNumber('--lr', (n) => n > 0, 'a number > 0'))
    .option('--momentum <m>', 'SGD momentum', finiteNumber('--momentum', (n) => n >= 0, 'a number ≥ 0'))
    .option('--nesterov', 'SGD Nesterov momentum')
    .option('--weight-decay <wd>', 'weight decay (Adam/SGD: L2 term; AdamW: decoupled)', finiteNumber('--weight-decay', (n) => n >= 0, 'a number ≥ 0'))
    .option('--task-lr <task=rate,...>', 'per-task learning rates (sequential)', keyValues('--task-lr', finiteNumber('--task-lr', (n) => n > 0, 'a number > 0')))
    .option('--task-weight <task=weight,...>', 'per-task loss weights', keyValues('--task-weight', finiteNumber('--task-weight', (n) => n >= 0, 'a number ≥ 0')))
    .option('--class-weight <task=balanced|w1,w2,...>', 'class weights of a classification task: balanced (n / (classes · n_class) on the training split), one weight per class, or class:weight pairs; cross_entropy as CrossEntropyLoss(weight), bce/bce_with_logits one weight, BCEWithLogitsLoss(pos_weight); repeatable', (v: string, prev?: Record<string, ClassWeightSetting>) => parseClassWeights(v, prev))
    .addOption(new Option('--schedule <kind>', 'learning-rate schedule: constant, step, cosine (default constant)').argParser(choice('--schedule', LR_SCHEDULE_KINDS)))
    .option('--warmup-steps <n>', 'cosine: linear warm-up steps (default 0)', nonNegativeInt('--warmup-steps'))
    .option('--min-lr <rate>', 'cosine: final learning rate (default 0)', finiteNumber('--min-lr', (n) => n >= 0, 'a number ≥ 0'))
    .option('--step-size <n>', 'step: steps between decays', positiveInt('--step-size'))
    .option('--gamma <factor>', 'step: decay factor (default 0.1)', finiteNumber('--gamma', (n) => n > 0, 'a number > 0'))
    .option('--epochs <n>', `epochs (default ${d.epochs})`, positiveInt('--epochs'))
    .option('--batch-size <n>', `rows per step (default ${d.batchSize})`, positiveInt('--batch-size'))
    .option('--shards <n>', 'split each batch into n jobs (default: one per 128 rows, at most 8)', positiveInt('--shards'))
    .option('--workers <n>', 'worker threads (default: available cores)', positiveInt('--workers'))
    .addOption(new Option('--compute-on <where>', 'where gradient jobs run: workers, coordinator (small models: no round trip per step) or auto (default: the faster here, timed over the first steps)').argParser(choice('--compute-on', COMPUTE_PLACES)))
    .option('--runs-dir <dir>', `where run directories go (default ${d.runsDir})`)
    .addOption(new Option('--on-nonfinite <action>', 'a NaN or infinity in a loss or gradient: stop the run, or skip the step (default stop)').argParser(choice('--on-nonfinite', ['stop', 'skip'] as const)))
    .option('--max-skips <n>', 'with --on-nonfinite skip: steps skipped in a row before the run stops as with stop (default 10)', nonNegativeInt('--max-skips'))
    .option('--clip-grad-norm <max>', 'clip gradient norms to max (torch.nn.utils.clip_grad_norm_ rule)', finiteNumber('--clip-grad-norm', (n) => n > 0, 'a number > 0'))
    .addOption(new Option('--clip-per <level>', 'clip each update (global) or each task\'s gradient (task) (default global)').argParser(choice('--clip-per', ['global', 'task'] as const)))
    .option('--init-weights <file>', 'start from these weights (.safetensors with the model\'s tensor names and shapes)')
    .option('--test <file>', 'a held-out test table (the features and label columns), evaluated once at the end with the saved weights')
    .option('--early-stopping <spec>', 'stop when a validation metric stops improving: <task>:<metric>[:patience] (metric: loss, accuracy or rmse; patience default 5) or mean[:patience]', (v: string) => parseEarlyStopping(v))
    .addOption(new Option('--keep <weights>', 'which weights weights.safetensors holds: best (the best epoch\'s; the default with --early-stopping) or final').argParser(choice('--keep', ['best', 'final'] as const)))
    .option('--cluster <url>', 'compute on `multitask worker` processes joined to this NATS server (nats://[token@]host:4222)')
    .option('--local-workers <n>', 'with --cluster: local threads computing jobs too (default 0)', nonNegativeInt('--local-workers'))
    .option('--creds <file>', 'with --cluster: a NATS credentials file')
    .option('--tls-ca <file>', 'with --cluster: a CA certificate (PEM) for the server\'s TLS')
    .option('--cluster-wait-ms <ms>', 'with --cluster: checkpoint and stop after this long without any worker (default 30000)', positiveInt('--cluster-wait-ms'))
    .addOption(new Option('--cluster-kernels <isa>', 'with --cluster: the kernels every process computes with (default: the fastest all workers have)').argParser(choice('--cluster-kernels', ['avx512', 'avx2', 'scalar', 'js'] as const)))
    .option('--quiet', 'print only errors and the final table')
    .option('--json', 'stream JSON lines to stdout: one per step, per epoch, and a final summary');
}

/** The value of a flag only when it was given on the command line. */
function given<K extends keyof FlagValues>(o: FlagValues, command: Command, key: K): FlagValues[K] | undefined {
  return command.getOptionValueSource(key) === 'cli' ? o[key] : undefined;
}

/** `cluster` from --cluster and its companions; UserError for a companion without --cluster. */
export function clusterFlags(o: FlagValues, command: Command): CliConfig['cluster'] {
  const g = <K extends keyof FlagValues>(key: K) => given(o, command, key);
  const url = g('cluster');
  const rest = dropUndefined({
    localWorkers: g('localWorkers'), creds: g('creds') === undefined ? undefined : resolve(g('creds')!),
    tlsCa: g('tlsCa') === undefined ? undefined : resolve(g('tlsCa')!), waitMs: g('clusterWaitMs'), kernels: g('clusterKernels') as 'avx2' | undefined,
  });
  if (url === undefined) {
    const stray = Object.keys(rest)[0];
    if (stray !== undefined) throw new UserError(`--${stray === 'waitMs' ? 'cluster-wait-ms' : stray === 'kernels' ? 'cluster-kernels' : stray.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: needs --cluster <url>`);
    return undefined;
  }
  return { url, ...rest };
}

/** The config fields the command-line flags set (paths relative to the working directory). */
export function flagsToConfig(o: FlagValues, command: Command): CliConfig {
  const g = <K extends keyof FlagValues>(key: K) => given(o, command, key);
  const abs = (p: string | undefined) => (p === undefined ? undefined : resolve(p));
  const tasks = g('task')?.map((t) => {
    const spec = parseTaskSpec(t, '--task');
    return dropUndefined({ name: spec.name, column: spec.column, loss: spec.loss, classes: spec.classes });
  });
  const schedule = dropUndefined({ kind: g('schedule'), warmupSteps: g('warmupSteps'), minLr: g('minLr'), stepSize: g('stepSize'), gamma: g('gamma') });
  const optimizer = dropUndefined({ name: g('optimizer'), lr: g('lr'), momentum: g('momentum'), nesterov: g('nesterov'), weightDecay: g('weightDecay') });
  const data = dropUndefined({ path: abs(g('data')), format: g('format'), features: g('features') });
  const model = dropUndefined({
    trunk: g('trunk'), activation: g('activation'), architecture: g('architecture'), experts: g('experts'),
    taskExperts: g('taskExperts'), levels: g('levels'), expert: g('expertWidths'), tower: g('towerWidths'),
  });
  const some = (x: object) => (Object.keys(x).length > 0 ? x : undefined);
  return dropUndefined({
    name: g('name'),
    runsDir: g('runsDir'),
    data: some(data),
    tasks,
    validation: g('validation'),
    model: some(model),
    taskWeights: g('taskWeight'),
    classWeights: g('classWeight'),
    taskLr: g('taskLr'),
    strategy: g('strategy'),
    strategyOptions: g('strategyOption'),
    weighting: g('weighting'),
    sequentialMode: g('sequentialMode'),
    plan: g('plan'),
    optimizer: some(optimizer),
    schedule: some(schedule),
    epochs: g('epochs'),
    batchSize: g('batchSize'),
    shards: g('shards'),
    seed: g('seed'),
    workers: g('workers'),
    computeOn: g('computeOn'),
    checkpointEvery: g('checkpointEvery'),
    keepCheckpoints: g('keepCheckpoints'),
    clipGradNorm: g('clipGradNorm'),
    clipPer: g('clipPer'),
    onNonFinite: g('onNonfinite'),
    test: abs(g('test')),
    earlyStopping: g('earlyStopping'),
    keep: g('keep'),
    maxSkips: g('maxSkips'),
    cluster: clusterFlags(o, command),
    initWeights: abs(g('initWeights')),
    saveWeights: abs(g('saveWeights')),
    report: g('report'),
  } as CliConfig);
}

/**
 * The config a command runs with: the file (if --config), then the flags given
 * on the command line over it. A schedule flag without --schedule refines the
 * file's schedule; --data over a file's data replaces its source (keeping features).
 */
export function commandConfig(o: FlagValues, command: Command): CliConfig {
  const file = o.config ? readConfigFile(o.config) : {};
  const flags = flagsToConfig(o, command);
  if (flags.schedule && flags.schedule.kind === undefined) {
    const kind = file.schedule?.kind;
    if (!kind) {
      const flag = Object.keys(flags.schedule)[0].replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
      throw new UserError(`--${flag}: needs a schedule (--schedule ${flags.schedule.stepSize !== undefined || flags.schedule.gamma !== undefined ? 'step' : 'cosine'})`);
    }
    flags.schedule = { ...flags.schedule, kind };
  }
  const merged = mergeConfigs(file, flags);
  // for .npy data, --features names the matrix's columns
  const data = merged.data;
  if (data !== undefined && data.kind !== 'arrays' && formatOf(data) === 'npy' && flags.data?.kind !== 'arrays' && flags.data?.features) {
    merged.data = { ...data, featureNames: flags.data.features, features: undefined };
  }
  return dropUndefined(merged);
}
