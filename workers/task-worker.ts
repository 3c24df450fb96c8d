/*
 * workers/: the thread entry the piscina pool runs (this file), thin on purpose.
 * May import: util, kernels, model, data, protocol.
 * (Never trainer, report or cli: a worker knows jobs, not the training loop.)
 */
/**
 * Piscina entry. The pool gives each thread one long task, `serve`: wait on the
 * thread's mailbox for a round of gradient jobs, run each — one task's (or,
 * fused, every task's) forward and backward pass over a shard of the step's
 * batch — and report its frame length or error; or run a chunk of fused steps
 * with the other threads (src/protocol/step-loop.ts). A job reads parameters and data
 * from shared memory and writes the gradient straight into its arena slot.
 * Thin on purpose: the math lives in src/model.
 */
import { workerData } from 'piscina';
import { faultFor, parseFaults, updateFaultAt } from '../src/protocol/faults.js';
import { PROTOCOL_VERSION } from '../src/protocol/codec.js';
import { JobExecutor } from '../src/protocol/job-executor.js';
import { Mailbox } from '../src/protocol/mailbox.js';
import type { GradientJob, ServeJob, ServerJob, WorkerSetup } from '../src/protocol/messages.js';
import { StepLoopWorker } from '../src/protocol/step-loop.js';

const faults = parseFaults(process.env.MULTITASK_FAULTS);

/** Injected into a step loop's update of a step (tests only). */
function injectUpdateFault(step: number): void {
  if (updateFaultAt(faults, step)) process.exit(70);
}

/** Injected faults (tests only; see src/protocol/faults.ts). */
function injectFault(job: GradientJob): void {
  const fault = faultFor(faults, job.step, job.tasks, job.attempt);
  if (!fault) return;
  if (fault.kind === 'throw') throw new Error(`injected fault (attempt ${job.attempt + 1})`);
  if (fault.kind === 'exit') process.exit(70); // in a worker thread this ends the thread only
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); // hang until the pool ends this thread
}

export default function serve(task: ServeJob): number {
  if (task.v !== PROTOCOL_VERSION) throw new Error(`serve protocol version ${task.v}, the worker speaks ${PROTOCOL_VERSION}`);
  const setup = workerData as WorkerSetup;
  const worker = new JobExecutor(setup);
  const loop = setup.loop && new StepLoopWorker(setup.loop, task.server, worker, worker.params, worker.kernels);
  const mailbox = new Mailbox({ ...setup.mailboxes, index: task.server });
  const run = (job: ServerJob): number => {
    if (job.kind === 'gradient') return worker.run(job, injectFault);
    if (!loop) throw new Error('this worker was started without a step loop');
    loop.run(job, injectFault, injectUpdateFault);
    return 0;
  };
  mailbox.markReady();
  let seen = task.seen;
  for (;;) {
    seen = mailbox.waitForRound(seen);
    if (mailbox.stopped || !mailbox.owns(task.token)) return 0;
    let jobs: ServerJob[];
    try {
      jobs = mailbox.readJobs();
    } catch (e) {
      throw new Error(`worker ${task.server}: ${(e as Error).message}`);
    }
    jobs.forEach((job, j) => {
      try {
        mailbox.report(task.token, seen, j, { ok: true, bytes: run(job) });
      } catch (e) {
        mailbox.report(task.token, seen, j, { ok: false, message: (e as Error).message });
      }
    });
  }
}
