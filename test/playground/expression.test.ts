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

  it('the math ops: sin′ = cos and sin″ = −sin, atan2 of two arguments, floor with zero gradient', () => {
    const xs = [0, 0.5, 1, 1.5];
    const r = runExpression(`x = [${xs.join(', ')}]`, 'sum(sin(x))');
    expect(r.variables[0]!.analytic).toEqual(xs.map(Math.cos));
    expect(r.secondOrder.gradients[0]!.analytic).toEqual(xs.map((x) => -Math.sin(x)));
    const a = runExpression('y = [1, -2]\nx = [0.5, 3]', 'sum(atan2(y, x))');
    expect(a.f).toBeCloseTo(Math.atan2(1, 0.5) + Math.atan2(-2, 3), 14);
    expect(a.variables[0]!.analytic[0]).toBeCloseTo(0.5 / 1.25, 14); // ∂/∂y = x/(x² + y²)
    expect(a.maxFdError).toBeLessThan(1e-6);
    expect(runExpression('x = [1, -2]', 'sum(atan2(x, 2))').maxFdError).toBeLessThan(1e-6);
    const f = runExpression('x = [0.3, 1.7]', 'sum(floor(x) + x)');
    expect(f.variables[0]!.analytic).toEqual([1, 1]);
    for (const fn of ['cos', 'tan', 'erf', 'erfc', 'gelu', 'geluTanh', 'silu', 'mish', 'logSigmoid', 'softsign', 'rsqrt', 'log1p', 'expm1', 'asinh']) {
      const run = runExpression('x = [0.25, 0.5, 0.75]', `sum(${fn}(x))`);
      expect(run.maxEngineError, fn).toBe(0);
      expect(run.maxFdError, fn).toBeLessThan(1e-6);
      expect(run.secondOrder.maxFdError, fn).toBeLessThan(1e-4);
    }
    expect(() => parseExpression('atan2(x)')).toThrow(/expected ','/);
    expect(() => runExpression('x = [1]', 'sum(atan2(1, 2))')).toThrow(/atan2: apply it to a variable expression, not two plain numbers/);
  });

  it('bad input gives a clear error', () => {
    expect(() => parseExpression('sum(x')).toThrow(ExpressionError);
    expect(() => parseExpression('foo(x)')).toThrow(/unknown function 'foo'/);
    expect(() => runExpression('x = [1, 2]', 'y + 1')).toThrow(/unknown variable 'y'/);
    expect(() => runExpression('x = [[1, 2], [3]]', 'sum(x)')).toThrow(/ragged/);
  });
});
