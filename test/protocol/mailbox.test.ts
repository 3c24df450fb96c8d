import { describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '../../src/protocol/codec.js';
import { createMailboxBuffer, Mailbox } from '../../src/protocol/mailbox.js';
import type { GradientJob } from '../../src/protocol/messages.js';

const job = (shard: number, tasks: number[]): GradientJob => ({
  kind: 'gradient', v: PROTOCOL_VERSION, step: 7, version: 3, shard, slot: shard, tasks, scales: tasks.map((t) => 1 / (t + 3)),
  rowStart: shard * 10, rowCount: 10, separate: false, attempt: 0,
});

function pair(maxJobs = 4, maxTasks = 16) {
  const buffer = createMailboxBuffer(2, maxJobs, maxTasks);
  // the coordinator's and the server's views of mailbox 1
  return { coordinator: new Mailbox({ buffer, index: 1, maxJobs, maxTasks }), server: new Mailbox({ buffer, index: 1, maxJobs, maxTasks }), buffer };
}

describe('mailbox', () => {
  it('carries a round of jobs and each job outcome, tagged with the round', () => {
    const { coordinator, server } = pair();
    coordinator.handOver(5);
    const jobs = [job(0, [0, 1, 2]), job(1, Array.from({ length: 16 }, (_, t) => t))];
    const generation = coordinator.post(jobs);
    expect(generation).toBe(1);
    expect(server.waitForRound(0)).toBe(1); // returns at once: the round is already posted
    expect(server.readJobs()).toEqual(jobs);
    expect(coordinator.outcome(generation, 0)).toBeUndefined();
    server.report(5, generation, 0, { ok: true, bytes: 4096 + 400 });
    server.report(5, generation, 1, { ok: false, message: 'task a, step 7, shard 1: boom' });
    expect(coordinator.progress).toBe(2);
    expect(coordinator.outcome(generation, 0)).toEqual({ ok: true, bytes: 4496 });
    expect(coordinator.outcome(generation, 1)).toEqual({ ok: false, message: 'task a, step 7, shard 1: boom' });
  });

  it('a new round clears the outcomes, and a late report for an older round is dropped', () => {
    const { coordinator, server } = pair();
    coordinator.handOver(1);
    const first = coordinator.post([job(0, [0])]);
    server.report(1, first, 0, { ok: true, bytes: 1 });
    const second = coordinator.post([job(0, [0]), job(1, [0])]);
    expect(second).toBe(2);
    expect(coordinator.outcome(second, 0)).toBeUndefined();
    expect(coordinator.outcome(first, 0)).toBeUndefined(); // cleared, not carried over
    const progress = coordinator.progress;
    server.report(1, first, 1, { ok: true, bytes: 7 }); // e.g. a job run twice
    expect(coordinator.outcome(second, 1)).toBeUndefined();
    expect(coordinator.progress).toBe(progress);
    server.report(1, second, 1, { ok: true, bytes: 7 });
    expect(coordinator.outcome(second, 1)).toEqual({ ok: true, bytes: 7 });
  });

  it('long error messages are cut at a character boundary, not mid-character', () => {
    const { coordinator, server } = pair();
    coordinator.handOver(1);
    const generation = coordinator.post([job(0, [0])]);
    server.report(1, generation, 0, { ok: false, message: 'é'.repeat(2000) });
    expect(coordinator.outcome(generation, 0)).toEqual({ ok: false, message: 'é'.repeat(512) });
  });

  it('a server that no longer owns the mailbox can neither report nor serve', () => {
    const { coordinator, server } = pair();
    coordinator.handOver(1);
    const generation = coordinator.post([job(0, [0])]);
    coordinator.handOver(2); // the pool replaced server 1 with server 2
    expect(server.owns(1)).toBe(false);
    server.report(1, generation, 0, { ok: true, bytes: 1 });
    expect(coordinator.outcome(generation, 0)).toBeUndefined();
    server.report(2, generation, 0, { ok: true, bytes: 1 });
    expect(coordinator.outcome(generation, 0)).toEqual({ ok: true, bytes: 1 });
  });

  it('the coordinator\'s blocking wait returns at once once a report moved the progress word, and times out otherwise', () => {
    const { coordinator, server } = pair();
    coordinator.handOver(5);
    const generation = coordinator.post([job(0, [0])]);
    const before = coordinator.progress;
    const started = performance.now();
    expect(coordinator.waitForProgressSync(before, 20)).toBe(false);
    expect(performance.now() - started).toBeGreaterThanOrEqual(15);
    server.report(5, generation, 0, { ok: true, bytes: 4096 });
    expect(coordinator.waitForProgressSync(before, 1000)).toBe(true);
    expect(coordinator.outcome(generation, 0)).toEqual({ ok: true, bytes: 4096 });
  });

  it('stop wakes the server and tells it to return', () => {
    const { coordinator, server } = pair();
    coordinator.handOver(1);
    coordinator.stop();
    expect(server.waitForRound(0)).toBe(1);
    expect(server.stopped).toBe(true);
  });

  it('mailboxes do not overlap, and rounds larger than the mailbox are refused', () => {
    const { coordinator, buffer } = pair(2, 3);
    const other = new Mailbox({ buffer, index: 0, maxJobs: 2, maxTasks: 3 });
    coordinator.post([job(0, [0])]);
    expect(other.generation).toBe(0);
    expect(() => coordinator.post([job(0, [0]), job(1, [0]), job(2, [0])])).toThrow(/3 jobs exceed the mailbox's 2/);
    expect(() => new Mailbox({ buffer, index: 2, maxJobs: 2, maxTasks: 3 })).toThrow(/outside its buffer/);
  });
});
