/** Shared assertions of the transform tests. */
import { expect } from 'vitest';
import type { Tensor } from '../../src/index.js';

/** Same shape, and every element within `tol` relative (absolute below 1) of the expected one. */
export function expectClose(a: Tensor, b: Tensor, tol = 1e-12): void {
  expect(a.shape).toEqual(b.shape);
  const x = a.toTypedArray();
  const y = b.toTypedArray();
  for (let i = 0; i < x.length; i++) {
    expect(Math.abs(x[i]! - y[i]!), `element ${i}: ${x[i]} vs ${y[i]}`).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(y[i]!)));
  }
}
