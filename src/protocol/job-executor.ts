/**
 * What a gradient job means, in one place: gather the shard's rows, run the
 * forward and backward pass, write the gradient straight into the job's arena
 * slot and its header after it. Worker threads run it (workers/task-worker.ts);
 * so does the coordinator when a step is too small to pay for a round trip
 * (src/trainer/inline-runner.ts) — the same code on the same shared memory,
 * hence the same bits.
 */
import { kernelsFor } from '../kernels/index.js';
import { LOSS_STATS_LENGTH, type Kernels } from '../kernels/types.js';
import { ParameterStore, viewTensors, type ModelTensors } from '../model/parameters.js';
import { targetWidth, taskGradients, Workspace, type TaskTerm } from '../model/network.js';
import { attachDataset } from '../data/dataset-handle.js';
import { FrameArena } from './arena.js';
import { PROTOCOL_VERSION } from './codec.js';
import { HEADER_BLOCK, writeFrameHeader } from './frame.js';
import type { GradientJob, WorkerSetup } from './messages.js';

/** Everything a job needs but the mailboxes a worker thread is served through. */
export type ComputeSetup = Omit<WorkerSetup, 'mailboxes'>;

export class JobExecutor {
  readonly kernels: Kernels;
  readonly params: ParameterStore;
  readonly workspace: Workspace;
  readonly arena: FrameArena;
  readonly batchRows: Int32Array;
  readonly stats: Float64Array;
  /** gradient views per slot, one entry per task set the slot has held, built on first use */
  private readonly gradientViews = new Map<number,
    { tensors: ModelTensors | ModelTensors[]; layout: number[]; floats: number; tasks: number[]; separate: boolean }[]>();

  constructor(readonly setup: ComputeSetup) {
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
   * Runs one job (after `before`, e.g. an injected fault); returns its frame's
   * length in bytes. The error of a job that fails names its task(s), step and
   * shard (only text crosses threads).
   */
  run(job: GradientJob, before?: (job: GradientJob) => void): number {
    return this.attempt(job, before, true);
  }

  /**
   * Runs one job as `run` does but writes no frame header: the step loop reads
   * the gradient in place and the losses from `stats`, nothing of a header.
   */
  gradient(job: GradientJob, before?: (job: GradientJob) => void): void {
    this.attempt(job, before, false);
  }

  private attempt(job: GradientJob, before: ((job: GradientJob) => void) | undefined, header: boolean): number {
    try {
      before?.(job);
      if (job.v !== PROTOCOL_VERSION) throw new Error(`job protocol version ${job.v}, the worker speaks ${PROTOCOL_VERSION}`);
      return this.compute(job, header);
    } catch (e) {
      throw new Error(`${this.jobName(job)}: ${(e as Error).message}`);
    }
  }

  /** "task a+b, step 12, shard 0" */
  private jobName(job: GradientJob): string {
    const names = job.tasks.map((t) => this.setup.spec.tasks[t]?.name ?? `#${t}`).join('+');
    return `task ${names}, step ${job.step}, shard ${job.shard}`;
  }

  /**
   * Views of the job's gradient(s) in its arena slot, each over the whole parameter
   * vector (the coordinator reduces them in place and uses them as they are);
   * built on first use, then reused.
   */
  private gradientTarget(job: GradientJob) {
    // a local slot holds one task set all run long; a cluster worker's slot (the job's place in its batch) a few in turn
    let entries = this.gradientViews.get(job.slot);
    if (!entries) this.gradientViews.set(job.slot, (entries = []));
    let entry = entries.find((e) => e.separate === job.separate && sameTasks(e.tasks, job.tasks));
    if (!entry) {
      const layout = this.params.layout;
      const count = job.separate ? job.tasks.length : 1;
      const payload = this.arena.payload(job.slot, count * layout.total);
      const views = Array.from({ length: count }, (_, i) =>
        viewTensors(this.setup.spec, layout, payload.subarray(i * layout.total, (i + 1) * layout.total)));
      // the header's layout: `count` whole vectors, each the segment [0, total)
      entry = {
        tensors: job.separate ? views : views[0], layout: views.flatMap(() => [0, layout.total]), floats: count * layout.total,
        tasks: [...job.tasks], separate: job.separate,
      };
      entries.push(entry);
    }
    return entry;
  }

  private compute(job: GradientJob, header: boolean): number {
    const { spec, dataset } = this.setup;
    if (this.params.version !== job.version) {
      throw new Error(`parameters are at version ${this.params.version}, the job expected ${job.version}`);
    }
    if (job.rowCount > this.workspace.maxRows) throw new Error(`${job.rowCount} rows exceed the workspace's ${this.workspace.maxRows}`);
    const started = performance.now();
    const ws = this.workspace;
    this.kernels.gatherRows(dataset.inputWidth, dataset.features, this.batchRows, job.rowStart, job.rowCount, ws.x);
    const terms: TaskTerm[] = job.tasks.map((task, j) => {
      this.kernels.gatherRows(targetWidth(spec.tasks[task]), dataset.tasks[task].targets, this.batchRows, job.rowStart, job.rowCount, ws.heads[task].target);
      return { task, gradScale: job.scales[j] };
    });
    const target = this.gradientTarget(job);
    taskGradients(this.kernels, spec, this.params.tensors, target.tensors, ws, job.rowCount, terms, this.stats);
    if (!header) return target.floats * 4;
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

function sameTasks(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
