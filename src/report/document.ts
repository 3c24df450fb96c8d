/**
 * What a report shows, as plain data: the Node side builds it from a run, the
 * page's script draws it. Every string in it is untrusted (task names come
 * from user data) and is only ever inserted with textContent.
 */

export interface LineSeries {
  name: string;
  x: number[];
  /** null = gap */
  y: (number | null)[];
  /** draw a dot at every point (sparse series such as per-epoch evaluations) */
  markers?: boolean;
  dashed?: boolean;
  /** palette index, so a series keeps its colour across charts (default: its position) */
  color?: number;
  /** the unsmoothed values, drawn faint under the (smoothed) line */
  raw?: { x: number[]; y: (number | null)[] };
}

export interface LineChart {
  kind: 'line';
  title: string;
  xLabel: string;
  yLabel: string;
  series: LineSeries[];
  /** fixed y range (cosines: -1..1); otherwise fitted to the data */
  yMin?: number;
  yMax?: number;
  /** a line under the chart (how its lines are smoothed) */
  note?: string;
}

/** Stacked bars: values[category][bar], bar b spanning x0[b]..x1[b], or named by labels[b]. */
export interface StackedChart {
  kind: 'stacked';
  title: string;
  xLabel: string;
  yLabel: string;
  categories: string[];
  x0: number[];
  x1: number[];
  labels?: string[];
  values: number[][];
}

/** values[row][column], columns spanning x0..x1; colours diverge around 0 within min..max. */
export interface HeatmapChart {
  kind: 'heatmap';
  title: string;
  xLabel: string;
  rows: string[];
  x0: number[];
  x1: number[];
  values: (number | null)[][];
  min: number;
  max: number;
}

export type Chart = LineChart | StackedChart | HeatmapChart;

export interface TableColumn {
  label: string;
  /** highlight the best numeric value in this column */
  better?: 'max' | 'min';
  /** show numbers as percentages */
  percent?: boolean;
}

export interface Table {
  title: string;
  /** what the columns mean, under the table */
  note?: string;
  columns: TableColumn[];
  rows: (string | number | null)[][];
}

export interface Section {
  title: string;
  note?: string;
  tables: Table[];
  charts: Chart[];
}

export interface ReportDocument {
  kind: 'run' | 'compare';
  title: string;
  subtitle: string;
  generated: string;
  warnings: string[];
  sections: Section[];
  /** the resolved config, pretty-printed, shown folded */
  config?: string;
}
