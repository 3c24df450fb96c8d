/**
 * Fault injection for tests: MULTITASK_FAULTS lists faults the workers inject
 * into gradient jobs, comma-separated, each `kind:step[:task[:times]]`:
 *   kind   throw (the job throws), exit (the worker thread exits), hang (the job never returns),
 *          exit-update (the thread exits while it updates its slice of the parameters, in
 *          steps run back to back on the threads; src/protocol/step-loop.ts): `exit-update:step`
 *          only, as an update belongs to no task and is never retried
 *   step   the step whose jobs fail
 *   task   only jobs that include this task index (default: any)
 *   times  how many attempts of the job fail (default 1: the first retry succeeds)
 * e.g. MULTITASK_FAULTS=throw:3,exit:5:1,hang:7::5
 */
export type FaultKind = 'throw' | 'exit' | 'hang' | 'exit-update';

const KINDS: readonly FaultKind[] = ['throw', 'exit', 'hang', 'exit-update'];

export interface Fault {
  kind: FaultKind;
  step: number;
  task?: number;
  times: number;
}

export function parseFaults(text: string | undefined): Fault[] {
  if (!text) return [];
  return text.split(',').map((part) => {
    const [kind, step, task, times] = part.trim().split(':');
    if (!KINDS.includes(kind as FaultKind)) {
      throw new Error(`MULTITASK_FAULTS: "${part}": kind must be throw, exit, hang or exit-update`);
    }
    const int = (s: string | undefined, what: string) => {
      const n = Number(s);
      if (!Number.isSafeInteger(n) || n < 0) throw new Error(`MULTITASK_FAULTS: "${part}": ${what} must be a non-negative integer`);
      return n;
    };
    if (kind === 'exit-update' && (task !== undefined || times !== undefined)) {
      throw new Error(`MULTITASK_FAULTS: "${part}": exit-update takes a step only`);
    }
    return {
      kind: kind as FaultKind,
      step: int(step, 'step'),
      task: task ? int(task, 'task') : undefined,
      times: times ? int(times, 'times') : 1,
    };
  });
}

/** The fault to inject into a job, if any. */
export function faultFor(faults: readonly Fault[], step: number, tasks: readonly number[], attempt: number): Fault | undefined {
  return faults.find((f) => f.kind !== 'exit-update' && f.step === step && attempt < f.times
    && (f.task === undefined || tasks.includes(f.task)));
}

/** Whether the step loop's update of step `step` is to fail (an exit-update fault). */
export function updateFaultAt(faults: readonly Fault[], step: number): boolean {
  return faults.some((f) => f.kind === 'exit-update' && f.step === step);
}
