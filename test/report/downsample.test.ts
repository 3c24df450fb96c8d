import { describe, expect, it } from 'vitest';
import { Downsampler, downsample } from '../../src/report/downsample.js';

describe('downsampling', () => {
  it('keeps short series as they are', () => {
    const s = downsample([1, 2, 3], [4, NaN, 6], 10);
    expect(s).toEqual({ x: [1, 2, 3], y: [4, null, 6] });
  });

  it('bounds long series and keeps their means', () => {
    const d = new Downsampler(2000);
    let sum = 0;
    for (let i = 1; i <= 20_000; i++) { d.add(i, i % 7); sum += i % 7; }
    const s = d.series(1000);
    expect(s.x.length).toBeLessThanOrEqual(1000);
    expect(s.x.length).toBeGreaterThan(500);
    expect(s.x[0]).toBeLessThan(s.x[1]);
    const perPoint = 20_000 / s.x.length;
    const mean = s.y.reduce((a, b) => a! + b!, 0)! / s.y.length;
    expect(mean).toBeCloseTo(sum / 20_000, 2);
    expect(perPoint).toBeGreaterThanOrEqual(20);
    expect(d.count).toBe(20_000);
    expect(d.last).toBe(20_000 % 7);
  });

  it('leaves gaps where a bucket has no finite value', () => {
    const s = downsample([1, 2, 3, 4], [1, NaN, NaN, 4], 4);
    expect(s.y).toEqual([1, null, null, 4]);
    expect(downsample([1, 2, 3, 4], [1, NaN, NaN, 4], 2).y).toEqual([1, 4]);
  });
});
