/**
 * Streaming downsampling for long step series: points are averaged into
 * buckets of consecutive points; when the buckets fill up, neighbours merge and
 * the bucket width doubles. Memory stays bounded whatever the run's length, and
 * the result depends only on the sequence of points.
 */
export interface Series {
  x: number[];
  /** null where a bucket held no finite value (a gap in the line) */
  y: (number | null)[];
}

export class Downsampler {
  private sumX: number[] = [];
  private sumY: number[] = [];
  /** finite y values per bucket */
  private finite: number[] = [];
  /** points per bucket */
  private points: number[] = [];
  private width = 1;
  /** points seen in all */
  count = 0;
  /** the last finite y added */
  last = NaN;

  /** Keeps at most `capacity` buckets (at least 2). */
  constructor(private readonly capacity = 2000) {
    if (capacity < 2) throw new RangeError('a Downsampler needs a capacity of at least 2');
  }

  add(x: number, y: number): void {
    const n = this.points.length;
    if (n === 0 || this.points[n - 1] >= this.width) {
      if (n === this.capacity) this.halve();
      this.sumX.push(0); this.sumY.push(0); this.finite.push(0); this.points.push(0);
    }
    const i = this.points.length - 1;
    this.sumX[i] += x;
    this.points[i]++;
    if (Number.isFinite(y)) {
      this.sumY[i] += y;
      this.finite[i]++;
      this.last = y;
    }
    this.count++;
  }

  private halve(): void {
    const n = this.points.length;
    const merge = (a: number[]) => {
      const out: number[] = [];
      for (let i = 0; i < n; i += 2) out.push(a[i] + (i + 1 < n ? a[i + 1] : 0));
      return out;
    };
    this.sumX = merge(this.sumX);
    this.sumY = merge(this.sumY);
    this.finite = merge(this.finite);
    this.points = merge(this.points);
    this.width *= 2;
  }

  /** The series as at most `maxPoints` averaged points (bucket means of x and of the finite y). */
  series(maxPoints = 1000): Series {
    const n = this.points.length;
    const group = Math.max(1, Math.ceil(n / Math.max(1, maxPoints)));
    const out: Series = { x: [], y: [] };
    for (let start = 0; start < n; start += group) {
      let sx = 0, sy = 0, nf = 0, np = 0;
      for (let i = start; i < Math.min(n, start + group); i++) {
        sx += this.sumX[i]; sy += this.sumY[i]; nf += this.finite[i]; np += this.points[i];
      }
      out.x.push(sx / np);
      out.y.push(nf > 0 ? sy / nf : null);
    }
    return out;
  }
}

/** Averages an in-memory series down to at most `maxPoints` points (unchanged when short enough). */
export function downsample(x: readonly number[], y: readonly number[], maxPoints = 1000): Series {
  const d = new Downsampler(Math.max(2, 2 * maxPoints));
  for (let i = 0; i < x.length; i++) d.add(x[i], y[i]);
  return d.series(maxPoints);
}
