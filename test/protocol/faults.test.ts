import { describe, expect, it } from 'vitest';
import { faultFor, parseFaults, updateFaultAt } from '../../src/protocol/faults.js';

describe('fault injection', () => {
  it('parses job faults with their task and times, and exit-update with a step only', () => {
    expect(parseFaults('throw:3,exit:5:1,hang:7::5,exit-update:6')).toEqual([
      { kind: 'throw', step: 3, task: undefined, times: 1 },
      { kind: 'exit', step: 5, task: 1, times: 1 },
      { kind: 'hang', step: 7, task: undefined, times: 5 },
      { kind: 'exit-update', step: 6, task: undefined, times: 1 },
    ]);
    expect(() => parseFaults('exit-update:6:1')).toThrow(/exit-update takes a step only/);
    expect(() => parseFaults('exit-update:6::2')).toThrow(/exit-update takes a step only/);
    expect(() => parseFaults('melt:1')).toThrow(/kind must be/);
  });

  it('gives a job its fault and an update its own, never the other\'s', () => {
    const faults = parseFaults('throw:3:1:2,exit-update:3');
    expect(faultFor(faults, 3, [0, 1], 1)?.kind).toBe('throw');
    expect(faultFor(faults, 3, [0, 1], 2)).toBeUndefined();
    expect(faultFor(faults, 3, [0], 0)).toBeUndefined();
    expect(updateFaultAt(faults, 3)).toBe(true);
    expect(updateFaultAt(faults, 4)).toBe(false);
    expect(updateFaultAt(parseFaults('throw:3'), 3)).toBe(false);
  });
});
