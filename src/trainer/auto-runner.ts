/**
 * computeOn `auto`: whether a run's gradient jobs go to the worker threads or
 * run on the coordinator thread, decided from what whole steps cost on this
 * machine.
 *
 * What is timed: each of the trainer's calls, one step taken alone or, on the
 * threads where steps run back to back (src/protocol/step-loop.ts), a chunk of
 * steps, from laying out its batches to its updates applied (the trainer
 * reports it: stepsTimed). Samples are time per step, so both sides are
 * compared by what a step costs as each would run it, every round of a step
 * (sequential's one per task) and the coordinator's own reduction and update
 * included.
 *
 * The rule:
 * - the threads warm up first, then the coordinator, each for at least
 *   `warmCalls` calls and `warmSteps` steps, or `warmMs` milliseconds if that
 *   comes first: V8 optimizes a side's code only after enough of it ran (a
 *   small model's first thousand or so steps on the coordinator run slower
 *   than its settled ones);
 * - then the sides alternate for `timedTurns` turns each. A turn's first call
 *   wakes the side up again after the other's turn (a worker thread asleep
 *   that long takes up to milliseconds to run again on these machines, which
 *   back-to-back chunks never pay) and is not timed; its next calls, until
 *   they add up to `turnMs`, are its sample: their time per step. A single
 *   step right after the other side's turn runs slower than steps back to back
 *   (on the coordinator, for a 128-row, width-256 model, enough to tip the
 *   choice either way from run to run); over `turnMs` (20 ms) they run as
 *   they would all run long. Alternating keeps both sides' samples moments apart on a
 *   machine whose speed drifts;
 * - the side whose median step is shorter keeps the run (the threads are
 *   closed when the coordinator wins).
 * Which side computes never changes a bit: both run the same executor in the
 * same job order (src/protocol/job-executor.ts).
 */
import type { GradientJob } from '../protocol/messages.js';
import type { JobRunner, Placement, PlacementReport, WorkerPool } from './pool.js';

type Side = Exclude<Placement, 'deciding'>;

/** How long computeOn auto times the two sides (see above). */
export interface AutoTiming {
  warmCalls: number;
  warmSteps: number;
  warmMs: number;
  timedTurns: number;
  turnMs: number;
}

const AUTO_TIMING: AutoTiming = { warmCalls: 8, warmSteps: 2000, warmMs: 1000, timedTurns: 16, turnMs: 20 };

/** What the choice was based on: median milliseconds per step on each side. */
export interface PlacementChoice extends Required<PlacementReport> {
  placement: Side;
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

export class AutoRunner implements JobRunner {
  private readonly warming: Record<Side, { calls: number; steps: number; ms: number }> = {
    workers: { calls: 0, steps: 0, ms: 0 }, coordinator: { calls: 0, steps: 0, ms: 0 },
  };
  private readonly timed: Record<Side, number[]> = { workers: [], coordinator: [] };
  /** the turn under way: whether it has had its waking call, and the steps and time of its calls since */
  private turn = { awake: false, steps: 0, ms: 0 };
  /** set once the timed turns are in */
  private choice: PlacementChoice | undefined;

  constructor(private readonly pool: JobRunner, private readonly inline: JobRunner,
    private readonly onChoice?: (choice: PlacementChoice) => void, private readonly timing = AUTO_TIMING) {}

  placement(): PlacementReport {
    return this.choice ?? { placement: 'deciding' };
  }

  /** The side of the call under way (every round of a step goes to one side): the warm-ups in turn, then alternating turns. */
  private get side(): Side {
    if (this.choice) return this.choice.placement;
    if (!this.warmed('workers')) return 'workers';
    if (!this.warmed('coordinator')) return 'coordinator';
    return this.timed.workers.length > this.timed.coordinator.length ? 'coordinator' : 'workers';
  }

  private warmed(side: Side): boolean {
    const w = this.warming[side];
    const { warmCalls, warmSteps, warmMs } = this.timing;
    return w.calls >= warmCalls && (w.steps >= warmSteps || w.ms >= warmMs);
  }

  private get current(): JobRunner {
    return this.side === 'coordinator' ? this.inline : this.pool;
  }

  get size(): number {
    return this.current.size;
  }

  get finishedAt(): Float64Array {
    return this.current.finishedAt;
  }

  set onFault(f: ((message: string) => void) | undefined) {
    this.pool.onFault = f;
  }

  warm(): Promise<void> {
    return this.pool.warm();
  }

  /** The threads' step loop (steps back to back) when the call under way is the threads' and they have one. */
  stepLoop(): WorkerPool | undefined {
    return this.side === 'workers' ? this.pool.stepLoop?.() : undefined;
  }

  runJobs(jobs: readonly GradientJob[], failedOnce?: string): Promise<void> {
    return this.current.runJobs(jobs, failedOnce);
  }

  /** One of the trainer's calls is over: while deciding, part of its side's warm-up, a turn's waking call, or a sample. */
  async stepsTimed(steps: number, ms: number): Promise<void> {
    if (this.choice) return;
    const side = this.side;
    if (!this.warmed(side)) {
      const w = this.warming[side];
      w.calls++;
      w.steps += steps;
      w.ms += ms;
      return;
    }
    const turn = this.turn;
    if (!turn.awake) {
      turn.awake = true;
      return;
    }
    turn.steps += steps;
    turn.ms += ms;
    if (turn.ms < this.timing.turnMs) return;
    this.timed[side].push(turn.ms / turn.steps);
    this.turn = { awake: false, steps: 0, ms: 0 };
    const { timedTurns } = this.timing;
    if (this.timed.workers.length >= timedTurns && this.timed.coordinator.length >= timedTurns) await this.decide();
  }

  private async decide(): Promise<void> {
    const workersMs = median(this.timed.workers);
    const coordinatorMs = median(this.timed.coordinator);
    const placement = coordinatorMs < workersMs ? 'coordinator' : 'workers';
    this.choice = { placement, workersMs, coordinatorMs };
    this.onChoice?.(this.choice);
    if (placement === 'coordinator') await this.pool.close();
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
