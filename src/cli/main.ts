/*
 * src/cli/: the `multitask` command-line program (commander): flags map onto the one
 * config schema; train, eval, predict, export, compare, init and report. This file:
 * the program and its commands.
 * May import: util, kernels, model, optim, strategies, data, protocol, trainer, report.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { kernelInfo, supportedKernels } from '../kernels/index.js';
import { writeReport } from '../report/index.js';
import { RUN_FILES } from '../trainer/run-format.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { isReportedError, isUserError, UserError, type RunError } from '../util/errors.js';
import { osError } from '../util/os-error.js';
import { packageRoot } from '../util/package-root.js';
import { compareCommand, COMPARE_FILE, COMPARE_PLAN_FILE, DEFAULT_COMPARE, isComparisonDirectory, parseStrategyList, reportCompareDirectory } from './compare.js';
import { configJsonSchema } from './config.js';
import { evalCommand, EXPORT_FORMATS, exportCommand, predictCommand, type ExportFormat, type Split } from './evaluate.js';
import { addDataOptions, addTrainingOptions, clusterFlags, commandConfig, type FlagValues } from './flags.js';
import { initCommand } from './init.js';
import { checkOutputFile } from './out-file.js';
import { Output } from './output.js';
import { choice, collect, nonNegativeInt, positiveInt } from './parse.js';
import { trainCommand } from './train.js';
import { strategiesCommand } from './strategies.js';
import { workerCommand } from './worker.js';

/** Flags a resumed run may be given: where and how it runs, not what it computes. */
const RESUME_ALLOWED = new Set(['resume', 'workers', 'computeOn', 'profile', 'report', 'runsDir', 'quiet', 'json',
  'cluster', 'localWorkers', 'creds', 'tlsCa', 'clusterWaitMs', 'clusterKernels', 'allowDataChange', 'force']);

/** What `report` reads: --out never goes onto one of them. */
const REPORT_INPUTS = [RUN_FILES.config, RUN_FILES.metrics, RUN_FILES.summary, COMPARE_FILE];

const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

function outputFor(o: { quiet?: boolean; json?: boolean }, print: (line: string) => void): Output {
  return new Output({ quiet: o.quiet, json: o.json, print });
}

async function runTrain(o: FlagValues, command: Command, print: (line: string) => void): Promise<number> {
  const output = outputFor(o, print);
  if (o.resume) {
    // a resumed run keeps its own settings; only where it runs may change
    const clash = Object.keys(o).find((k) => !RESUME_ALLOWED.has(k) && command.getOptionValueSource(k) === 'cli');
    if (clash) throw new UserError(`--resume: the run keeps the settings in its config.json; --${kebab(clash)} cannot change them`);
    const report = command.getOptionValueSource('report') === 'cli' ? o.report : undefined;
    return (await trainCommand({ resume: o.resume, workers: o.workers, computeOn: o.computeOn, cluster: clusterFlags(o, command), profile: o.profile, report, output, allowDataChange: o.allowDataChange, force: o.force })).code;
  }
  if (o.allowDataChange) throw new UserError('--allow-data-change: only with --resume');
  const config = commandConfig(o, command);
  return (await trainCommand({ config, profile: o.profile, output, force: o.force })).code;
}

async function runCompare(o: FlagValues & { strategies?: string; seeds?: number[]; noReport?: boolean }, command: Command, print: (line: string) => void): Promise<number> {
  const output = outputFor(o, print);
  if (o.resume) {
    // a resumed comparison keeps its plan; only where it runs may change
    const clash = Object.keys(o).find((k) => !RESUME_ALLOWED.has(k) && command.getOptionValueSource(k) === 'cli');
    if (clash) throw new UserError(`--resume: the comparison keeps the settings in its ${COMPARE_PLAN_FILE}; --${kebab(clash)} cannot change them`);
    const report = command.getOptionValueSource('report') === 'cli' ? o.report : undefined;
    return compareCommand({ resume: o.resume, config: {}, entries: [], workers: o.workers, report, output });
  }
  for (const key of ['strategy', 'sequentialMode'] as const) {
    if (command.getOptionValueSource(key) === 'cli') throw new UserError(`--${kebab(key)}: compare runs the strategies of --strategies (e.g. --strategies sum,sequential:stale,pcgrad)`);
  }
  const config = commandConfig(o, command);
  const entries = parseStrategyList(o.strategies ?? DEFAULT_COMPARE.join(','));
  if (o.seeds && config.seed !== undefined && command.getOptionValueSource('seed') === 'cli') throw new UserError('--seed: give --seeds or --seed, not both');
  return compareCommand({ config, entries, seeds: o.seeds, name: config.name, workers: o.workers, report: o.report, output });
}

function info(print: (line: string) => void): void {
  const k = kernelInfo();
  print(`kernels: ${k.backend}${k.isa ? ` (${k.isa})` : ''}${k.reason ? ` — ${k.reason}` : ''}`);
  print(`workers: ${availableParallelism()} (default: available cores)`);
  print(`cluster worker kernels: ${supportedKernels().map((c) => c.isa).join(', ')} (fastest first)`);
  print(`node: ${process.version}`);
}

/** `--seeds 0,1,2`: distinct non-negative integers. */
function seedList(text: string): number[] {
  const seeds = text.split(',').map((t) => t.trim());
  if (!seeds.every((t) => /^\d+$/.test(t)) || new Set(seeds).size !== seeds.length) {
    throw new UserError(`--seeds: ${JSON.stringify(text)} is not a list of distinct non-negative integers (e.g. 0,1,2)`);
  }
  return seeds.map(Number);
}

/** This package's version (package.json). */
function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(import.meta.url), 'package.json'), 'utf8')) as { version: string }).version;
}

/** The model source options of eval and predict. */
function addModelSource(cmd: Command): Command {
  return cmd
    .argument('[run-dir]', 'a run directory (runs/<name>): its config.json and weights.safetensors')
    .option('--config <file>', 'the run config the weights were trained with (instead of a run directory)')
    .option('--weights <file>', 'weights (.safetensors; default: the run directory\'s weights.safetensors)')
    .option('--json', 'print JSON instead of a table');
}

/** The program; each command's action leaves its exit code in `result`. */
export function buildProgram(print: (line: string) => void, result = { exitCode: 0 }): Command {
  const program = new Command('multitask')
    .description('Multi-task neural-network trainer: add the task losses into one step, or step each task separately')
    .version(packageVersion(), '--version', 'print the version')
    .showHelpAfterError(false)
    .exitOverride();

  const train = program.command('train')
    .description('train a multi-task model (default: the built-in Palmer penguins data: species, sex, body mass)');
  addDataOptions(train);
  addTrainingOptions(train);
  train
    .option('--name <name>', 'run name: the run goes to <runs-dir>/<name>/ (default: time and strategy)')
    .option('--resume <run-dir>', 'continue a stopped run from its newest checkpoint')
    .option('--checkpoint-every <steps>', 'checkpoint every n steps (and at every epoch end); 0: epoch ends only (default 500)', nonNegativeInt('--checkpoint-every'))
    .option('--keep-checkpoints <k>', 'checkpoints kept (default 3)', positiveInt('--keep-checkpoints'))
    .option('--save-weights <file>', 'also save the final weights here (besides the run directory\'s weights.safetensors)')
    .option('--force', 'overwrite an existing --save-weights file')
    .option('--allow-data-change', 'with --resume: continue although the data file changed since the run started')
    .option('--profile', 'print where each step\'s time went (worker compute, transport, reduction, combination, optimizer, idle)')
    .option('--no-report', 'do not write report.html at the end')
    .action(async (o: FlagValues, command: Command) => {
      result.exitCode = await runTrain(o, command, print);
    });

  const compare = program.command('compare')
    .description(`train several strategies on the same data, seed and budget and compare them (default: ${DEFAULT_COMPARE.join(', ')})`)
    .option('--strategies <list>', 'comma-separated: a strategy name, sequential:fresh / sequential:stale, options as name:key=value (e.g. cagrad:c=0.2)');
  addDataOptions(compare);
  addTrainingOptions(compare);
  // compare runs the strategies of --strategies, and prints one JSON line per run
  for (const option of compare.options) {
    if (option.long === '--strategy' || option.long === '--sequential-mode') option.hideHelp();
    if (option.long === '--json') option.description = 'JSON lines on stdout: one per finished run, then the comparison';
  }
  compare
    .option('--name <name>', 'comparison name: runs go to <runs-dir>/<name>/<strategy>/ (default: time and "compare")')
    .option('--resume <dir>', 'finish a stopped comparison: finished runs are kept, a stopped run resumes, the others run')
    .option('--seeds <list>', 'run every strategy once per seed (e.g. 0,1,2) into seed-<s>/, and report mean ± standard deviation', seedList)
    .option('--no-report', 'do not write the comparison report.html')
    .action(async (o: FlagValues & { strategies?: string; seeds?: number[] }, command: Command) => {
      result.exitCode = await runCompare(o, command, print);
    });

  addModelSource(program.command('eval'))
    .description('per-task metrics of trained weights: accuracy, F1, AUC (classification); RMSE, MAE, R² (regression)')
    .addOption(new Option('--split <split>', 'rows to evaluate: validation, train or all').argParser(choice('--split', ['validation', 'train', 'all'] as const)).default('validation'))
    .action(async (run: string | undefined, o: { config?: string; weights?: string; split: Split; json?: boolean }) => {
      result.exitCode = await evalCommand({ run, config: o.config, weights: o.weights, split: o.split }, outputFor(o, print));
    });

  addModelSource(program.command('predict'))
    .description('predictions for the rows of a CSV (.json, .jsonl or .npy) file: the input columns plus one column per task')
    .requiredOption('--input <file>', 'rows to predict (they need the model\'s feature columns)')
    .option('--out <file>', 'where to write the CSV (default: stdout)')
    .option('--probabilities', 'add class probability columns prob_<task>_<class>')
    .option('--force', 'overwrite an existing --out file')
    .action(async (run: string | undefined, o: { config?: string; weights?: string; input: string; out?: string; probabilities?: boolean; json?: boolean; force?: boolean }) => {
      result.exitCode = await predictCommand({ run, config: o.config, weights: o.weights, input: o.input, out: o.out, probabilities: o.probabilities, force: o.force }, outputFor(o, print));
    });

  program.command('export')
    .description('write a run\'s weights (or its newest checkpoint\'s) as safetensors with PyTorch names and layouts, or the model as ONNX')
    .argument('<run-dir>', 'a run directory')
    .requiredOption('--out <file>', 'the file to write (.safetensors, or .onnx)')
    .addOption(new Option('--format <format>', 'safetensors or onnx (default: onnx for an --out ending in .onnx, else safetensors)').argParser(choice('--format', EXPORT_FORMATS)))
    .option('--force', 'overwrite an existing --out file')
    .action(async (run: string, o: { out: string; format?: ExportFormat; force?: boolean }) => {
      result.exitCode = await exportCommand({ run, out: o.out, format: o.format, force: o.force, producerVersion: packageVersion() }, outputFor({}, print));
    });

  program.command('report')
    .description('write report.html for a run (or comparison) directory')
    .argument('<dir>', 'a run directory, or a directory written by multitask compare')
    .option('--out <file>', 'where to write (default: <dir>/report.html)')
    .option('--force', 'overwrite an existing --out file')
    .action(async (dir: string, o: { out?: string; force?: boolean }) => {
      if (o.out) checkOutputFile(o.out, '--out', { force: o.force, inputs: REPORT_INPUTS.map((f) => join(dir, f)) });
      const result = isComparisonDirectory(dir) ? await reportCompareDirectory(dir, o.out) : await writeReport(dir, { out: o.out });
      for (const w of result.warnings) process.stderr.write(`multitask: ${w}\n`);
      print(`report: ${result.path}`);
    });

  program.command('schema')
    .description('print the JSON Schema of the run config file (for editor completion)')
    .option('--out <file>', 'write it to a file instead')
    .option('--force', 'overwrite an existing --out file')
    .action((o: { out?: string; force?: boolean }) => {
      const text = JSON.stringify(configJsonSchema(), null, 2);
      if (o.out) checkOutputFile(o.out, '--out', { force: o.force });
      if (o.out) writeFileAtomic(o.out, `${text}\n`);
      else print(text);
    });

  program.command('init')
    .description('write a starter run config from a data file\'s columns, saying what it guessed for each')
    .argument('<data-file>', 'a .csv (or .json, .jsonl) file with a header')
    .option('--out <file>', 'the config to write', 'run.json')
    .option('--targets <columns>', 'the columns to predict (default: guessed)', collect)
    .option('--force', 'overwrite an existing file')
    .action((data: string, o: { out: string; targets?: string[]; force?: boolean }) => {
      const result = initCommand(data, o.out, { force: o.force, targets: o.targets });
      for (const line of result.lines) print(line);
      print(`wrote ${o.out}; edit it, then: multitask train --config ${o.out}`);
    });

  program.command('info')
    .description('print the kernel backend, instruction set and default worker count, and every kernel a cluster worker here offers')
    .action(() => info(print));

  program.command('strategies')
    .description('list every strategy with what it does, its paper, and its options (defaults and ranges)')
    .option('--json', 'one JSON line per strategy')
    .action((o: { json?: boolean }) => {
      result.exitCode = strategiesCommand(outputFor(o, print));
    });

  program.command('worker')
    .description('join a NATS server as a worker process: compute the gradient jobs of any run sent there (`train --cluster`)')
    .requiredOption('--connect <url>', 'the NATS server: nats://[token@ | user:password@]host[:port]')
    .option('--threads <n>', `local worker threads (default: available cores, ${availableParallelism()})`, positiveInt('--threads'))
    .option('--creds <file>', 'a NATS credentials file')
    .option('--tls-ca <file>', 'a CA certificate (PEM) for the server\'s TLS')
    .option('--quiet', 'print only errors')
    .option('--json', 'print JSON lines')
    .action(async (o: { connect: string; threads?: number; creds?: string; tlsCa?: string; quiet?: boolean; json?: boolean }) => {
      result.exitCode = await workerCommand({ url: o.connect, threads: o.threads, creds: o.creds, tlsCa: o.tlsCa, output: outputFor(o, print) });
    });
  return program;
}

/** Runs the CLI; returns the exit code. User mistakes print one line and return 2. */
export async function main(argv: string[], print: (line: string) => void = (l) => console.log(l)): Promise<number> {
  const result = { exitCode: 0 };
  const program = buildProgram(print, result);
  // commander's own error line is not printed (ours is), for the subcommands too
  for (const command of [program, ...program.commands]) command.configureOutput({ writeErr: () => {} });
  if (argv.length <= 2) {
    // no command: the overview, and a usage error's exit code
    process.stderr.write(program.helpInformation());
    return 2;
  }
  try {
    await program.parseAsync(argv);
    return result.exitCode;
  } catch (thrown) {
    const e = osError(thrown); // an OS error on a path: one line naming it
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
