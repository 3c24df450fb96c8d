import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { loadPenguins, penguinsPath, penguinsTable, PENGUINS_TASKS } from '../../src/data/penguins.js';
import { tableRows } from '../../src/data/table.js';

describe('loadPenguins', () => {
  const ds = loadPenguins();

  it('finds data/penguins.json next to package.json', () => {
    expect(penguinsPath()).toMatch(/[/\\]data[/\\]penguins\.json$/);
    expect(existsSync(penguinsPath().replace(/data[/\\]penguins\.json$/, 'package.json'))).toBe(true);
    const t = penguinsTable();
    expect(tableRows(t).length).toBe(344);
    expect(t.columns).toEqual(['Species', 'Island', 'Beak Length (mm)', 'Beak Depth (mm)', 'Flipper Length (mm)', 'Body Mass (g)', 'Sex']);
  });

  it('keeps 342 rows after dropping the 2 with missing measurements', () => {
    expect(ds.rows).toBe(342);
    expect(ds.droppedRows).toBe(2);
    expect(ds.train.length + ds.validation.length).toBe(342);
    expect(ds.validation.length).toBe(Math.round(342 * 0.2));
  });

  it('has 6 inputs: island one-hot and three measurements', () => {
    expect(ds.inputWidth).toBe(6);
    expect(ds.encoding.names).toEqual([
      'Island=Biscoe', 'Island=Dream', 'Island=Torgersen', 'Beak Length (mm)', 'Beak Depth (mm)', 'Flipper Length (mm)',
    ]);
  });

  it('has the three tasks with friendly names', () => {
    expect(ds.tasks.map((t) => [t.name, t.column, t.loss, t.outputs])).toEqual([
      ['species', 'Species', 'cross_entropy', 3],
      ['sex', 'Sex', 'bce_with_logits', 1],
      ['body_mass', 'Body Mass (g)', 'mse', 1],
    ]);
    const [species, sex, mass] = ds.tasks;
    expect(species.classes).toEqual(['Adelie', 'Chinstrap', 'Gentoo']);
    expect(species.labelled).toBe(342);
    expect(sex.classes).toEqual(['FEMALE', 'MALE']);
    expect(sex.labelled).toBe(333); // 10 nulls and one "." in 344; the 2 dropped rows had a null sex
    expect(Array.from(sex.targets).filter(Number.isNaN).length).toBe(9);
    expect(Array.from(sex.targets).filter((v) => v === 1).length).toBe(168); // MALE
    expect(mass.labelled).toBe(342);
    expect(mass.targetMean).toBeGreaterThan(4000);
    expect(mass.targetMean).toBeLessThan(4400);
  });

  it('is deterministic in the seed and honours the options', () => {
    const a = loadPenguins({ seed: 5 });
    const b = loadPenguins({ seed: 5 });
    expect(Array.from(a.validation)).toEqual(Array.from(b.validation));
    expect(Array.from(a.validation)).not.toEqual(Array.from(ds.validation));
    expect(loadPenguins({ validationFraction: 0.5 }).validation.length).toBe(171);
  });

  it('does not let callers mutate the built-in task list', () => {
    expect(Object.isFrozen(PENGUINS_TASKS)).toBe(true);
  });
});
