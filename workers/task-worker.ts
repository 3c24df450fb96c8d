/*
 * workers/: the thread entry the piscina pool runs (this file), thin on purpose.
 * May import: util, kernels, model, data, protocol.
 * (Never trainer, report or cli: a worker knows jobs, not the training loop.)
 */
/**
 * Piscina entry. The pool gives each thread one long task, `serve`: wait on the
 * thread's mailbox for a round of gradient jobs, run each — one task's (or,
 * fused, every task's) forward and backward pass over a shard of the step's
 * batch — and report its frame length or error. A job reads parameters and data
 * from shared memory and writes the gradient straight into its arena slot.
 * Thin on purpose: the math lives in src/model.
 */
import { workerData } from 'piscina';
import { kernelsFor } from '../src/kernels/index.js';
import { LOSS_STATS_LENGTH, type Kernels } from '../src/kernels/types.js';
import { ParameterStore, viewTensors, type ModelTensors } from '../src/model/parameters.js';
import { gatherRows, targetWidth, taskGradients, Workspace, type TaskTerm } from '../src/model/network.js';
import { attachDataset } from '../src/data/dataset-handle.js';
import { faultFor, parseFaults } from '../src/protocol/faults.js';
import { FrameArena } from '../src/protocol/arena.js';
import { PROTOCOL_VERSION } from '../src/protocol/codec.js';
import { HEADER_BLOCK, writeFrameHeader } from '../src/protocol/frame.js';
import { Mailbox } from '../src/protocol/mailbox.js';
import type { GradientJob, ServeJob, WorkerSetup } from '../src/protocol/messages.js';

class WorkerState {
  readonly kernels: Kernels;
  readonly params: ParameterStore;
  readonly workspace: Workspace;
  readonly arena: FrameArena;
  readonly batchRows: Int32Array;
  readonly stats: Float64Array;
  /** gradient views per (slot, task set), built on first use */
  private readonly gradientViews = new Map<string, { tensors: ModelTensors | ModelTensors[]; layout: number[]; floats: number }>();

  constructor(readonly setup: WorkerSetup) {
    if (setup.v !== PROTOCOL_VERSION) throw new Error(`worker speaks protocol ${PROTOCOL_VERSION}, coordinator ${setup.v}`);
    this.kernels = kernelsFor(setup.kernels);
    this.params = ParameterStore.attach(setup.spec, setup.params);
    attachDataset(setup.dataset);
    this.workspace = new Workspace(setup.spec, setup.maxRows);
    this.arena = new FrameArena(setup.arena);
    this.batchRows = new Int32Array(setup.batchRows);
    this.stats = new Float64Array(setup.spec.tasks.length * LOSS_STATS_LENGTH);
  }

  /**
   * Views of the job's gradient(s) in its arena slot, each over the whole parameter
   * vector (the coordinator reduces them in place and uses them as they are);
   * built on first use, then reused.
   */
  gradientTarget(job: GradientJob) {
    const key = `${job.slot}:${job.tasks.join(',')}:${job.separate}`;
    let entry = this.gradientViews.get(key);
    if (!entry) {
      const layout = this.params.layout;
      const count = job.separate ? job.tasks.length : 1;
      const payload = this.arena.payload(job.slot, count * layout.total);
      const views = Array.from({ length: count }, (_, i) =>
        viewTensors(this.setup.spec, layout, payload.subarray(i * layout.total, (i + 1) * layout.total)));
      // the header's layout: `count` whole vectors, each the segment [0, total)
      entry = { tensors: job.separate ? views : views[0], layout: views.flatMap(() => [0, layout.total]), floats: count * layout.total };
      this.gradientViews.set(key, entry);
    }
    return entry;
  }

  compute(job: GradientJob): number {
    const { spec, dataset } = this.setup;
    if (this.params.version !== job.version) {
      throw new Error(`parameters are at version ${this.params.version}, the job expected ${job.version}`);
    }
    if (job.rowCount > this.workspace.maxRows) throw new Error(`${job.rowCount} rows exceed the workspace's ${this.workspace.maxRows}`);
    const started = performance.now();
    const ws = this.workspace;
    gatherRows(dataset.inputWidth, dataset.features, this.batchRows, job.rowStart, job.rowCount, ws.x);
    const terms: TaskTerm[] = job.tasks.map((task, j) => {
      gatherRows(targetWidth(spec.tasks[task]), dataset.tasks[task].targets, this.batchRows, job.rowStart, job.rowCount, ws.heads[task].target);
      return { task, gradScale: job.scales[j] };
    });
    const target = this.gradientTarget(job);
    taskGradients(this.kernels, spec, this.params.tensors, target.tensors, ws, job.rowCount, terms, this.stats);
    writeFrameHeader(this.arena.frame(job.slot), {
      v: PROTOCOL_VERSION,
      step: job.step,
      shard: job.shard,
      version: this.params.version,
      computeMicros: Math.round((performance.now() - started) * 1000),
      tasks: job.tasks,
      losses: Array.from(this.stats.subarray(0, job.tasks.length * LOSS_STATS_LENGTH)),
      layout: target.layout,
    });
    return HEADER_BLOCK + target.floats * 4;
  }
}

const faults = parseFaults(process.env.MULTITASK_FAULTS);

/** Injected faults (tests only; see src/protocol/faults.ts). */
function injectFault(job: GradientJob): void {
  const fault = faultFor(faults, job.step, job.tasks, job.attempt);
  if (!fault) return;
  if (fault.kind === 'throw') throw new Error(`injected fault (attempt ${job.attempt + 1})`);
  if (fault.kind === 'exit') process.exit(70); // in a worker thread this ends the thread only
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); // hang until the pool ends this thread
}

/** Runs one job; its error message names the task, step and shard (only text crosses threads). */
function runJob(worker: WorkerState, job: GradientJob): number {
  try {
    if (job.v !== PROTOCOL_VERSION) throw new Error(`job protocol version ${job.v}, the worker speaks ${PROTOCOL_VERSION}`);
    injectFault(job);
    return worker.compute(job);
  } catch (e) {
    const names = job.tasks.map((t) => worker.setup.spec.tasks[t]?.name ?? `#${t}`).join('+');
    throw new Error(`task ${names}, step ${job.step}, shard ${job.shard}: ${(e as Error).message}`);
  }
}

export default function serve(task: ServeJob): number {
  if (task.v !== PROTOCOL_VERSION) throw new Error(`serve protocol version ${task.v}, the worker speaks ${PROTOCOL_VERSION}`);
  const setup = workerData as WorkerSetup;
  const worker = new WorkerState(setup);
  const mailbox = new Mailbox({ ...setup.mailboxes, index: task.server });
  mailbox.markReady();
  let seen = task.seen;
  for (;;) {
    seen = mailbox.waitForRound(seen);
    if (mailbox.stopped || !mailbox.owns(task.token)) return 0;
    let jobs: GradientJob[];
    try {
      jobs = mailbox.readJobs();
    } catch (e) {
      throw new Error(`worker ${task.server}: ${(e as Error).message}`);
    }
    jobs.forEach((job, j) => {
      try {
        mailbox.report(task.token, seen, j, { ok: true, bytes: runJob(worker, job) });
      } catch (e) {
        mailbox.report(task.token, seen, j, { ok: false, message: (e as Error).message });
      }
    });
  }
}
