/**
 * `multitask worker --connect URL`: a long-lived worker process. It joins the
 * NATS server, serves the gradient jobs of whichever runs send them on its
 * local threads, and on Ctrl-C (or SIGTERM) drains: it finishes the jobs in
 * flight, sends their frames, then leaves.
 */
import { availableParallelism } from 'node:os';
import { redactUrl, connectCluster, type ClusterAddress } from '../trainer/cluster-connection.js';
import { ClusterWorker } from '../trainer/cluster-worker.js';
import type { Output } from './output.js';

export interface WorkerSession extends ClusterAddress {
  threads?: number;
  output: Output;
}

export async function workerCommand(s: WorkerSession): Promise<number> {
  const threads = s.threads ?? availableParallelism();
  const nc = await connectCluster(s, `multitask worker (${threads} threads)`);
  const worker = new ClusterWorker(nc, { threads, log: (line) => s.output.info(`multitask worker: ${line}`) });
  worker.start();
  const kernels = worker.info().kernels.map((k) => k.isa).join(', ');
  s.output.info(`multitask worker ${worker.id}: joined ${redactUrl(s.url)} with ${threads} threads (kernels ${kernels}); Ctrl-C to leave`);
  s.output.json({ type: 'worker', worker: worker.id, url: redactUrl(s.url), threads, kernels: worker.info().kernels });
  let signalled = 0;
  const stopped = new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      if (++signalled > 1) process.exit(130); // a second signal: at once
      s.output.warn(`${signal}: finishing the jobs in flight, then leaving (again to quit at once)`);
      resolve();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  const closed = nc.closed().then((err) => {
    if (err) throw err;
  });
  await Promise.race([stopped, closed]);
  await worker.drain();
  s.output.info(`multitask worker ${worker.id}: left after ${worker.counts.jobs} jobs of ${worker.counts.runs} run(s)`);
  return 0;
}
