import { describe, expect, it } from 'vitest';
import { checkSchedule, describeSchedule, learningRate, scheduleFunction } from '../../src/trainer/schedule.js';

describe('learning-rate schedules', () => {
  it('constant is the base rate at every step', () => {
    const lr = scheduleFunction({ kind: 'constant' }, 0.01, 10);
    expect([0, 1, 1000].map(lr)).toEqual([0.01, 0.01, 0.01]);
    expect(scheduleFunction(undefined, 0.3, 10)(5)).toBe(0.3);
  });

  it('step multiplies by gamma every stepSize steps (StepLR)', () => {
    const lr = scheduleFunction({ kind: 'step', stepSize: 3, gamma: 0.5 }, 0.8, 10);
    expect([0, 1, 2, 3, 5, 6, 9].map(lr)).toEqual([0.8, 0.8, 0.8, 0.4, 0.4, 0.2, 0.1]);
    // PyTorch's default gamma 0.1
    expect(learningRate({ kind: 'step', stepSize: 2 }, 1, 4)).toBeCloseTo(0.01, 15);
  });

  it('cosine warms up linearly, then follows the half cosine down to minLr', () => {
    const s = { kind: 'cosine', warmupSteps: 4, minLr: 0.1, totalSteps: 12 } as const;
    const lr = scheduleFunction(s, 1.1, 10);
    // warm-up: base·(t+1)/W
    expect([0, 1, 2, 3].map(lr)).toEqual([0.275, 0.55, 0.825, 1.1].map((x) => expect.closeTo(x, 12)));
    // t = W: the base; the midpoint (t − W = (T − W)/2): halfway between base and minLr
    expect(lr(4)).toBeCloseTo(1.1, 12);
    expect(lr(8)).toBeCloseTo(0.6, 12);
    // by hand: t = 6 → 0.1 + 1.0·(1 + cos(π/4))/2
    expect(lr(6)).toBeCloseTo(0.1 + (1 + Math.SQRT1_2) / 2, 12);
    expect(lr(12)).toBe(0.1);
    expect(lr(100)).toBe(0.1);
    // monotone after the warm-up
    for (let t = 4; t < 12; t++) expect(lr(t + 1)).toBeLessThanOrEqual(lr(t));
  });

  it('cosine horizon from totalEpochs × steps per epoch; without warm-up it starts at the base', () => {
    const lr = scheduleFunction({ kind: 'cosine', totalEpochs: 2 }, 1, 5);
    expect(lr(0)).toBe(1);
    expect(lr(5)).toBeCloseTo(0.5, 12); // halfway through 10 steps
    expect(lr(10)).toBe(0);
    expect(describeSchedule({ kind: 'cosine', totalEpochs: 2 }, 5)).toBe('cosine (warm-up 0 steps, to 0 over 10 steps)');
  });

  it.each([
    [{ kind: 'linear' }, /schedule\.kind: "linear" is not one of constant, step, cosine/],
    [{ kind: 'step' }, /schedule\.stepSize: missing; kind "step" needs it/],
    [{ kind: 'step', stepSize: 1.5 }, /schedule\.stepSize: 1\.5 is not a positive integer/],
    [{ kind: 'step', stepSize: 2, gamma: 0 }, /schedule\.gamma: 0 is not a number > 0/],
    [{ kind: 'step', stepSize: 2, warmupSteps: 3 }, /schedule\.warmupSteps: applies to kind "cosine", not "step"/],
    [{ kind: 'constant', gamma: 0.5 }, /schedule\.gamma: applies to kind "step", not "constant"/],
    [{ kind: 'cosine', warmupSteps: -1, totalSteps: 3 }, /schedule\.warmupSteps: -1 is not a non-negative integer/],
    [{ kind: 'cosine', minLr: -0.1, totalSteps: 3 }, /schedule\.minLr: -0\.1 is not a number ≥ 0/],
    [{ kind: 'cosine', warmupSteps: 5, totalSteps: 5 }, /schedule\.totalSteps: 5 is not more than warmupSteps \(5\)/],
    [{ kind: 'cosine', totalSteps: 5, totalEpochs: 1 }, /give totalSteps or totalEpochs, not both/],
    [{ kind: 'cosine', foo: 1 }, /schedule\.foo: unknown field/],
    ['cosine', /"cosine" is not a schedule/],
  ])('rejects %j', (value, message) => {
    expect(() => checkSchedule(value)).toThrow(message);
  });

  it('checks a cosine schedule against its base rate and horizon', () => {
    expect(() => scheduleFunction({ kind: 'cosine', minLr: 0.5, totalSteps: 10 }, 0.1, 1, 'taskSchedules.sex'))
      .toThrow(/taskSchedules\.sex\.minLr: 0\.5 is above the learning rate it decays from \(0\.1\)/);
    expect(() => scheduleFunction({ kind: 'cosine' }, 0.1, 1)).toThrow(/needs totalSteps or totalEpochs/);
    expect(() => scheduleFunction({ kind: 'cosine', warmupSteps: 20, totalEpochs: 1 }, 0.1, 10)).toThrow(/not longer than the warm-up/);
  });
});
