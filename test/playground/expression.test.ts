/** The playground's expression lab (playground/src/core/expression.ts), run in Node. */
import { describe, expect, it } from 'vitest';
import { EXAMPLES, ExpressionError, parseExpression, runExpression } from '../../playground/src/core/expression.js';

describe('playground expression lab', () => {
  it('x³: gradient 3x², gradient of the gradient 6x, finite differences agree', () => {
    const r = runExpression('x = [1, 2, 3]', 'sum(x^3)');
    expect(r.f).toBe(36);
    expect(r.variables[0]!.analytic).toEqual([3, 12, 27]);
    expect(r.variables[0]!.engine).toEqual([3, 12, 27]);
    expect(r.maxFdError).toBeLessThan(1e-6);
    expect(r.secondOrder.gradients[0]!.analytic).toEqual([6, 12, 18]);
    expect(r.secondOrder.maxFdError).toBeLessThan(1e-5);
    expect(r.secondOrder.backwardGraphOps).toBeGreaterThan(0);
  });

  it('steps through backward in reverse topological order and accumulates fan-in', () => {
    const r = runExpression('x = [0.5, -1, 2]', 'sum(x * x)');
    expect(r.steps[0]!.label).toBe('sum');
    expect(r.steps[0]!.gradOut.values).toEqual([1]);
    const mul = r.steps.find((s) => s.label === 'mul')!;
    expect(mul.sends).toHaveLength(2); // both operands are x: two contributions that add up
    expect(r.variables[0]!.analytic).toEqual([1, -2, 4]);
    // the op nodes show what they saved
    expect(r.nodes.find((n) => n.label === 'mul')!.saved).toHaveLength(2);
  });

  it('every example runs and its gradients match finite differences and the engine', () => {
    for (const ex of EXAMPLES) {
      const r = runExpression(ex.variables, ex.expression);
      expect(r.maxEngineError, ex.name).toBe(0);
      expect(r.maxFdError, ex.name).toBeLessThan(1e-5);
      expect(r.secondOrder.maxFdError, ex.name).toBeLessThan(1e-4);
    }
  });

  it('a non-scalar output is differentiated through its sum', () => {
    const r = runExpression('x = [1, 2]', 'x * 3');
    expect(r.summed).toBe(true);
    expect(r.variables[0]!.analytic).toEqual([3, 3]);
  });

  it('bad input gives a clear error', () => {
    expect(() => parseExpression('sum(x')).toThrow(ExpressionError);
    expect(() => parseExpression('foo(x)')).toThrow(/unknown function 'foo'/);
    expect(() => runExpression('x = [1, 2]', 'y + 1')).toThrow(/unknown variable 'y'/);
    expect(() => runExpression('x = [[1, 2], [3]]', 'sum(x)')).toThrow(/ragged/);
  });
});
