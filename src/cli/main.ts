import { availableParallelism } from 'node:os';
import { Command, CommanderError, Option } from 'commander';
import { parseTaskSpec } from '../data/task-spec.js';
import { kernelInfo } from '../kernels/index.js';
import { ACTIVATIONS, type Activation } from '../kernels/types.js';
import { OPTIMIZER_NAMES, type OptimizerConfig, type OptimizerName } from '../optim/index.js';
import { PLAN_NAMES, SEQUENTIAL_MODES, type TrainerConfig } from '../trainer/config.js';
import { isReportedError, isUserError, UserError, type RunError } from '../util/errors.js';
import { trainCommand } from './train.js';
import { choice, collect, finiteNumber, intList, keyValues, nonNegativeInt, positiveInt } from './parse.js';

interface TrainOptions {
  data?: string;
  task: string[];
  features: string[];
  strategy: TrainerConfig['strategy'];
  sequentialMode: TrainerConfig['sequentialMode'];
  plan: TrainerConfig['plan'];
  workers?: number;
  epochs: number;
  batchSize: number;
  shards?: number;
  optimizer: OptimizerName;
  lr: number;
  momentum?: number;
  nesterov?: boolean;
  weightDecay?: number;
  taskLr?: Record<string, number>;
  taskWeight?: Record<string, number>;
  trunk: number[];
  activation: Activation;
  seed: number;
  validation: number;
  profile?: boolean;
  name?: string;
  runsDir: string;
  resume?: string;
  checkpointEvery: number;
  keepCheckpoints: number;
  onNonfinite: 'stop' | 'skip';
  clipGradNorm?: number;
  clipPer: 'global' | 'task';
  report: boolean;
}

/** Turns the parsed options into the API's config (the CLI is a thin layer over the Trainer). */
export function trainerConfig(o: TrainOptions): TrainerConfig {
  if (o.data === undefined && o.task.length > 0) throw new UserError('--task: needs --data <file.csv> (the built-in data set has its own tasks)');
  if (o.data !== undefined && o.task.length === 0) throw new UserError(`--data ${o.data}: say which columns to predict with --task column:loss (e.g. --task species:cross_entropy)`);
  const optimizer: OptimizerConfig = { name: o.optimizer, lr: o.lr };
  if (o.momentum !== undefined) optimizer.momentum = o.momentum;
  if (o.nesterov) optimizer.nesterov = true;
  if (o.weightDecay !== undefined) optimizer.weightDecay = o.weightDecay;
  return {
    data: o.data === undefined
      ? { kind: 'penguins' }
      : { kind: 'csv', path: o.data, tasks: o.task.map((t) => parseTaskSpec(t, '--task')), features: o.features.length > 0 ? o.features : undefined },
    trunk: o.trunk.map((units) => ({ units, activation: o.activation })),
    strategy: o.strategy,
    sequentialMode: o.sequentialMode,
    plan: o.plan,
    workers: o.workers,
    batchSize: o.batchSize,
    shards: o.shards,
    optimizer,
    taskLr: o.taskLr,
    taskWeights: o.taskWeight,
    seed: o.seed,
    validationFraction: o.validation,
    onNonFinite: o.onNonfinite,
    clipGradNorm: o.clipGradNorm === undefined ? undefined : { max: o.clipGradNorm, per: o.clipPer },
  };
}

function runTrain(o: TrainOptions, command: Command, print: (line: string) => void): Promise<number> {
  if (o.resume) {
    // a resumed run keeps its own settings; only where it runs may change
    const allowed = new Set(['resume', 'workers', 'profile', 'report', 'runsDir']);
    const clash = Object.keys(o).find((k) => !allowed.has(k) && command.getOptionValueSource(k) === 'cli');
    if (clash) throw new UserError(`--resume: the run keeps the settings in its config.json; --${clash.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} cannot change them`);
  }
  return trainCommand({
    runConfig: { format: 1, trainer: trainerConfig(o), epochs: o.epochs, checkpointEvery: o.checkpointEvery, keepCheckpoints: o.keepCheckpoints },
    runsDir: o.runsDir,
    name: o.name,
    resume: o.resume,
    workers: o.workers,
    profile: o.profile,
    report: o.report,
  }, print);
}



function info(print: (line: string) => void): void {
  const k = kernelInfo();
  print(`kernels: ${k.backend}${k.isa ? ` (${k.isa})` : ''}${k.reason ? ` — ${k.reason}` : ''}`);
  print(`workers: ${availableParallelism()} (default: available cores)`);
  print(`node: ${process.version}`);
}

let exitCode = 0;

export function buildProgram(print: (line: string) => void): Command {
  const program = new Command('multitask')
    .description('Multi-task neural-network trainer: add the task losses into one step, or step each task separately')
    .showHelpAfterError(false)
    .exitOverride();
  program.command('train')
    .description('train a multi-task model (default: the built-in Palmer penguins data: species, sex, body mass)')
    .option('--data <file.csv>', 'CSV file with a header row (default: built-in penguins)')
    .option('--task <column:loss[:classes]>', 'a task: target column and loss (cross_entropy, bce_with_logits, bce, mse, l1, smooth_l1); repeatable', collect, [])
    .option('--features <columns>', 'feature columns, comma-separated (default: every non-target column); name:category forces one-hot', collect, [])
    .addOption(new Option('--strategy <name>', 'sum: one step on Σ w·L; sequential: one step per task').default('sum'))
    .addOption(new Option('--sequential-mode <mode>', 'fresh: each task at the parameters left by the previous task; stale: all at the same parameters').argParser(choice('--sequential-mode', SEQUENTIAL_MODES)).default('fresh'))
    .addOption(new Option('--plan <plan>', 'execution plan: fused (one trunk pass for all tasks, sum only), per-task, auto').argParser(choice('--plan', PLAN_NAMES)).default('auto'))
    .option('--workers <n>', 'worker threads (default: available cores)', positiveInt('--workers'))
    .option('--epochs <n>', 'epochs', positiveInt('--epochs'), 30)
    .option('--batch-size <n>', 'rows per step', positiveInt('--batch-size'), 32)
    .option('--shards <n>', 'split each batch into n jobs (default: one per 128 rows)', positiveInt('--shards'))
    .addOption(new Option('--optimizer <name>', 'optimizer').argParser(choice('--optimizer', OPTIMIZER_NAMES)).default('adam'))
    .option('--lr <rate>', 'learning rate', finiteNumber('--lr', (n) => n > 0, 'a number > 0'), 0.01)
    .option('--momentum <m>', 'SGD momentum', finiteNumber('--momentum', (n) => n >= 0, 'a number ≥ 0'))
    .option('--nesterov', 'SGD Nesterov momentum')
    .option('--weight-decay <wd>', 'weight decay (Adam/SGD: L2 term; AdamW: decoupled)', finiteNumber('--weight-decay', (n) => n >= 0, 'a number ≥ 0'))
    .option('--task-lr <task=rate,...>', 'per-task learning rates (sequential)', keyValues('--task-lr', finiteNumber('--task-lr', (n) => n > 0, 'a number > 0')))
    .option('--task-weight <task=weight,...>', 'per-task loss weights', keyValues('--task-weight', finiteNumber('--task-weight', (n) => n >= 0, 'a number ≥ 0')))
    .option('--trunk <widths>', 'trunk layer widths, comma-separated', intList('--trunk'), [64, 64])
    .addOption(new Option('--activation <name>', 'trunk activation').argParser(choice('--activation', ACTIVATIONS)).default('relu'))
    .option('--seed <n>', 'random seed (initialisation, split, batches)', nonNegativeInt('--seed'), 0)
    .option('--validation <fraction>', 'fraction of rows held out', finiteNumber('--validation', (n) => n >= 0 && n < 1, 'a number in [0, 1)'), 0.2)
    .option('--profile', 'print where each step\'s time went (worker compute, transport, reduction, combination, optimizer, idle)')
    .option('--name <name>', 'run name: the run goes to <runs-dir>/<name>/ (default: time and strategy)')
    .option('--runs-dir <dir>', 'where run directories go', 'runs')
    .option('--resume <run-dir>', 'continue a stopped run from its newest checkpoint')
    .option('--checkpoint-every <steps>', 'checkpoint every n steps (and at every epoch end); 0: epoch ends only', nonNegativeInt('--checkpoint-every'), 500)
    .option('--keep-checkpoints <k>', 'checkpoints kept', positiveInt('--keep-checkpoints'), 3)
    .addOption(new Option('--on-nonfinite <action>', 'a NaN or infinity in a loss or gradient: stop the run, or skip the step').argParser(choice('--on-nonfinite', ['stop', 'skip'] as const)).default('stop'))
    .option('--clip-grad-norm <max>', 'clip gradient norms to max (torch.nn.utils.clip_grad_norm_ rule)', finiteNumber('--clip-grad-norm', (n) => n > 0, 'a number > 0'))
    .addOption(new Option('--clip-per <level>', 'clip each update (global) or each task\'s gradient (task)').argParser(choice('--clip-per', ['global', 'task'] as const)).default('global'))
    .option('--no-report', 'do not write report.html at the end')
    .action(async (o: TrainOptions, command: Command) => {
      exitCode = await runTrain(o, command, print);
    });
  program.command('info')
    .description('print the kernel backend, instruction set and default worker count')
    .action(() => info(print));
  return program;
}

/** Runs the CLI; returns the exit code. User mistakes print one line and return 2. */
export async function main(argv: string[], print: (line: string) => void = (l) => console.log(l)): Promise<number> {
  const program = buildProgram(print);
  program.configureOutput({ writeErr: () => {} });
  try {
    exitCode = 0;
    await program.parseAsync(argv);
    return exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      process.stderr.write(`multitask: ${e.message.replace(/^error: /, '')}\n`);
      return 2;
    }
    if (isReportedError(e)) {
      process.stderr.write(`multitask: ${e.message}\n`);
      return isUserError(e) ? 2 : (e as RunError).exitCode;
    }
    process.stderr.write(`multitask: internal error: ${e instanceof Error ? e.stack : String(e)}\n`);
    return 1;
  }
}
