import { describe, expect, it } from 'vitest';
import { checkTaskSpec, parseTaskSpec } from '../../src/data/task-spec.js';
import { UserError } from '../../src/util/errors.js';

function message(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return (e as Error).message;
  }
  throw new Error('expected a UserError');
}

describe('parseTaskSpec', () => {
  it('parses column:loss with the column as the name', () => {
    expect(parseTaskSpec('Species:cross_entropy', '--task')).toEqual({ name: 'Species', column: 'Species', loss: 'cross_entropy' });
  });

  it('parses a class list', () => {
    expect(parseTaskSpec('Sex:bce_with_logits:FEMALE|MALE', '--task'))
      .toEqual({ name: 'Sex', column: 'Sex', loss: 'bce_with_logits', classes: ['FEMALE', 'MALE'] });
    expect(parseTaskSpec('y:cross_entropy:c| b |a', '--task').classes).toEqual(['c', 'b', 'a']);
  });

  it('parses name=column:loss, with spaces in the column', () => {
    expect(parseTaskSpec('body_mass=Body Mass (g):mse', '--task')).toEqual({ name: 'body_mass', column: 'Body Mass (g)', loss: 'mse' });
  });

  it('accepts a column containing ":" and loss names in any case', () => {
    expect(parseTaskSpec('a:b:SMOOTH-L1', '--task')).toEqual({ name: 'a:b', column: 'a:b', loss: 'smooth_l1' });
  });

  it('names the option, the value and the valid losses for an unknown loss', () => {
    const m = message(() => parseTaskSpec('sex:crossentropy', '--task'));
    expect(m).toContain('--task sex:crossentropy: "crossentropy" is not one of cross_entropy, bce_with_logits, bce, mse, l1, smooth_l1');
    expect(m).toContain('did you mean cross_entropy?');
    expect(message(() => parseTaskSpec('sex:crossentropy:F|M', '--task'))).toContain('"crossentropy" is not one of');
    expect(message(() => parseTaskSpec('x:hinge', '--task'))).toBe('--task x:hinge: "hinge" is not one of cross_entropy, bce_with_logits, bce, mse, l1, smooth_l1');
  });

  it('rejects a missing loss, empty column, classes on regression, wrong class counts', () => {
    expect(message(() => parseTaskSpec('species', '--task'))).toContain('--task species: no loss given');
    expect(message(() => parseTaskSpec(':mse', '--task'))).toContain('empty column name');
    expect(message(() => parseTaskSpec('y:mse:a|b', '--task'))).toContain('regression loss, so it takes no class list');
    expect(message(() => parseTaskSpec('sex:bce:F|M|U', '--task'))).toContain('needs exactly 2 classes (negative|positive), got 3: F, M, U');
    expect(message(() => parseTaskSpec('s:cross_entropy:a|a', '--task'))).toContain('lists class "a" twice');
    expect(message(() => parseTaskSpec('s:cross_entropy:a||b', '--task'))).toContain('empty class name');
    expect(message(() => parseTaskSpec('=s:mse', '--task'))).toContain('empty task name');
  });
});

describe('checkTaskSpec', () => {
  it('checks specs built in code', () => {
    expect(() => checkTaskSpec({ name: 't', column: 'c', loss: 'mse' }, 'cfg')).not.toThrow();
    expect(message(() => checkTaskSpec({ name: 't', column: 'c', loss: 'hinge' as never }, 'cfg.json'))).toContain('cfg.json: loss "hinge"');
  });
});
