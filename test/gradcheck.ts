/**
 * Central-difference gradient checking in float64 (minitorch's `grad_check`, PyTorch's
 * `gradcheck`, JAX's `check_grads`), plus the closeness helpers the tests share.
 *
 * For f(x₁, …, xₙ) → y (any shape) we fix a random cotangent c of y's shape and check the
 * scalar L(x) = ⟨f(x), c⟩:
 *   - at a few sampled indices i of every argument: ∂L/∂xᵢ (the analytic gradient from
 *     gradscope's `gradients`) against (L(x + h·eᵢ) − L(x − h·eᵢ)) / 2h;
 *   - along one random direction v over all arguments at once: Σ ∂L/∂x·v against
 *     (L(x + h·v) − L(x − h·v)) / 2h.
 *
 * Numerically, the difference L(x+) − L(x−) is formed output element by output element,
 * Σⱼ cⱼ·(f(x+)ⱼ − f(x−)ⱼ), before it is summed: an element that the perturbation does not
 * touch then contributes exactly 0 instead of a rounding error of the size of the whole sum.
 *
 * Perturbed arguments are always FRESH contiguous copies of the argument's values: an expanded
 * view aliases one memory cell from many positions, so perturbing it in place would move
 * several elements at once (PyTorch's gradcheck warning).
 */
import { expect } from 'vitest';
import { grad, gradients, noGrad, tensor, type Tensor } from '../src/index.js';
import { mulberry32, unravel } from './arbitraries.js';

/**
 * h and the tolerances. In float64 (ε ≈ 1.1e-16) a central difference with step h has
 * truncation error ≈ h²·|f'''|/6 and rounding error ≈ ε·|f|/h. Relative to the derivative f'
 * being checked these are h²·|f'''/f'|/6 and (ε/h)·|f/f'|. The catalogue's safe domains keep
 * inputs ≥ 0.05 from poles, so |f'''/f'| ≲ 2.5e3 (x^-2.5 at 0.1, even for its second derivative)
 * and |f/f'| ≲ 60 (log at 20), giving relative errors below ≈ 5e-10 and 7e-9. rtol = 1e-5 thus
 * leaves a margin of > 1000× for a correct gradient while any wrong formula (a wrong factor,
 * sign or missing term) is an O(1) relative error. atol = 1e-7 only matters for derivatives
 * that are ~0 (tanh'(10) ≈ 8e-9), where the absolute rounding error ε·|f|/h ≲ 1e-9 remains.
 */
export const H = 1e-6;
export const RTOL = 1e-5;
export const ATOL = 1e-7;

export interface GradcheckOptions {
  /** Name of the function, for failure messages. */
  name?: string;
  /** Names of the arguments, for failure messages (default x0, x1, …). */
  argNames?: readonly string[];
  /** Which arguments to differentiate (default: all). Others are held constant. */
  wrt?: readonly number[];
  /** Indices sampled per argument (all of them if the argument is no larger). */
  samples?: number;
  /** Seed for the cotangent, the sampled indices and the random direction. */
  seed?: number;
  h?: number;
  rtol?: number;
  atol?: number;
}

/** |a − b| ≤ atol + rtol·scale, with scale = max(|a|, |b|) unless given. */
export function isClose(a: number, b: number, rtol: number, atol: number, scale?: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  if (!Number.isFinite(a) || !Number.isFinite(b)) return a === b;
  return Math.abs(a - b) <= atol + rtol * (scale ?? Math.max(Math.abs(a), Math.abs(b)));
}

/**
 * Expect `actual` (a tensor or numbers) to equal `expected` elementwise within tolerance,
 * with the same shape when both are given. NaN matches NaN; infinities must match exactly.
 */
export function expectAllClose(
  actual: Tensor | ArrayLike<number>,
  expected: ArrayLike<number>,
  options: { rtol?: number; atol?: number; shape?: readonly number[]; what?: string } = {},
): void {
  const { rtol = 1e-12, atol = 1e-12, what = 'value' } = options;
  if (options.shape && !isArrayLike(actual)) expect(actual.shape, `${what}: shape`).toEqual([...options.shape]);
  const a = isArrayLike(actual) ? Array.from(actual) : Array.from(actual.toTypedArray());
  expect(a.length, `${what}: number of elements`).toBe(expected.length);
  for (let i = 0; i < a.length; i++) {
    if (!isClose(a[i]!, expected[i]!, rtol, atol)) {
      const shapeNote = options.shape ? ` (index [${unravel(i, options.shape)}] of shape [${options.shape}])` : '';
      throw new Error(
        `${what}: element ${i}${shapeNote}: got ${a[i]}, expected ${expected[i]} ` +
          `(|diff| ${Math.abs(a[i]! - expected[i]!)}, rtol ${rtol}, atol ${atol})\n  got      [${a.slice(0, 24).join(', ')}]\n  expected [${Array.from(expected).slice(0, 24).join(', ')}]`,
      );
    }
  }
}

function isArrayLike(x: Tensor | ArrayLike<number>): x is ArrayLike<number> {
  return !('toTypedArray' in x);
}

/** A float64 tensor of `shape` with values uniform in [-1, 1) from `rng`. */
export function randomTensor(shape: readonly number[], rng: () => number): Tensor {
  const n = shape.reduce((p, d) => p * d, 1);
  return tensor(
    Float64Array.from({ length: n }, () => 2 * rng() - 1),
    { shape: shape.slice(), dtype: 'float64' },
  );
}

/** L = ⟨y, c⟩ as a gradscope scalar (used to make a tensor-valued function scalar). */
export function contract(y: Tensor, c: Tensor): Tensor {
  return y.mul(c).sum();
}

function formatValues(t: Tensor, limit = 12): string {
  const v = Array.from(t.toTypedArray());
  return `[${v.slice(0, limit).join(', ')}${v.length > limit ? ', …' : ''}]`;
}

/**
 * Check the analytic gradient of `f` at `inputs` against central differences. Throws an
 * Error naming the function, the argument, the index, and both values on the first mismatch.
 */
export function gradcheck(
  f: (...xs: Tensor[]) => Tensor | Tensor[],
  inputs: readonly Tensor[],
  options: GradcheckOptions = {},
): void {
  const { name = f.name || 'f', samples = 4, seed = 1, h = H, rtol = RTOL, atol = ATOL } = options;
  const wrt = options.wrt ?? inputs.map((_, i) => i);
  const argName = (k: number) => options.argNames?.[k] ?? `x${k}`;
  for (const k of wrt) {
    if (inputs[k]!.dtype !== 'float64') throw new Error(`gradcheck(${name}): argument ${argName(k)} must be float64; got ${inputs[k]!.dtype}`);
  }
  const rng = mulberry32(seed);

  // One cotangent per output, fixed for every evaluation (1 for a one-element output).
  const outputsOf = (r: Tensor | Tensor[]) => (Array.isArray(r) ? r : [r]);
  const y0 = noGrad(() => outputsOf(f(...inputs)));
  const c = y0.map((o) => (o.size === 1 ? tensor(new Float64Array(1).fill(1), { shape: o.shape.slice(), dtype: 'float64' }) : randomTensor(o.shape, rng)));
  const cValues = c.map((t) => t.toTypedArray());

  // Analytic: gradients of Σ⟨fₒ, cₒ⟩ with respect to fresh leaves sharing the inputs' layouts.
  const leaves = inputs.map((x, k) => (wrt.includes(k) ? x.detach().requireGrad() : x));
  const y = outputsOf(f(...leaves));
  y.forEach((o, i) => expect(o.shape, `gradcheck(${name}): shape of output ${i}`).toEqual(y0[i]!.shape));
  const targets = wrt.map((k) => leaves[k]!);
  const analytic = gradients(y, targets, { gradOutputs: c, allowUnused: true });
  analytic.forEach((g, j) => {
    const k = wrt[j]!;
    expect(g.shape, `gradcheck(${name}): shape of the gradient of ${argName(k)}`).toEqual(inputs[k]!.shape);
    expect(g.dtype, `gradcheck(${name}): dtype of the gradient of ${argName(k)}`).toBe('float64');
  });
  const analyticValues = analytic.map((g) => g.toTypedArray());

  // Numeric: central differences on fresh contiguous copies.
  const base = inputs.map((x) => x.toTypedArray());
  const evalAt = (perturb: (k: number, values: Float64Array) => void): Float64Array[] => {
    const args = inputs.map((x, k) => {
      const copy = Float64Array.from(base[k]!);
      perturb(k, copy);
      return tensor(copy, { shape: x.shape.slice(), dtype: x.dtype });
    });
    return noGrad(() => outputsOf(f(...args)).map((o) => o.toTypedArray() as Float64Array));
  };
  const difference = (plus: Float64Array[], minus: Float64Array[]) => {
    let s = 0;
    plus.forEach((p, o) => {
      for (let j = 0; j < p.length; j++) s += cValues[o]![j]! * (p[j]! - minus[o]![j]!);
    });
    return s / (2 * h);
  };
  const describeInputs = () =>
    inputs.map((x, k) => `    ${argName(k)}: shape [${x.shape}] strides [${x.strides}] values ${formatValues(x)}`).join('\n');

  wrt.forEach((k, j) => {
    const n = inputs[k]!.size;
    const indices = n <= samples ? Array.from({ length: n }, (_, i) => i) : sampleIndices(n, samples, rng);
    for (const i of indices) {
      const plus = evalAt((kk, v) => kk === k && (v[i] = v[i]! + h));
      const minus = evalAt((kk, v) => kk === k && (v[i] = v[i]! - h));
      const numeric = difference(plus, minus);
      const a = analyticValues[j]![i]!;
      if (!isClose(a, numeric, rtol, atol)) {
        throw new Error(
          `gradcheck failed for ${name}: argument ${argName(k)} (shape [${inputs[k]!.shape}]) at index ${i} ` +
            `[${unravel(i, inputs[k]!.shape)}] (value ${base[k]![i]}): analytic ${a}, numeric ${numeric}, ` +
            `|diff| ${Math.abs(a - numeric)} > atol ${atol} + rtol ${rtol}·max(|a|,|n|)\n  inputs:\n${describeInputs()}`,
        );
      }
    }
  });

  // One random direction over all differentiated arguments together.
  const direction = wrt.map((k) => Float64Array.from({ length: inputs[k]!.size }, () => 2 * rng() - 1));
  const dirIndex = (k: number) => wrt.indexOf(k);
  const step = (sign: number) =>
    evalAt((k, v) => {
      const d = dirIndex(k);
      if (d < 0) return;
      for (let i = 0; i < v.length; i++) v[i] = v[i]! + sign * h * direction[d]![i]!;
    });
  const numeric = difference(step(1), step(-1));
  let a = 0;
  let scale = 0;
  direction.forEach((v, d) => {
    for (let i = 0; i < v.length; i++) {
      a += analyticValues[d]![i]! * v[i]!;
      scale += Math.abs(analyticValues[d]![i]! * v[i]!);
    }
  });
  // Scale by Σ|gᵢvᵢ| too: the directional derivative may cancel to ~0 while each term (and
  // hence the rounding error of the difference) is not small.
  if (!isClose(a, numeric, rtol, atol, Math.max(Math.abs(a), Math.abs(numeric), scale))) {
    throw new Error(
      `gradcheck failed for ${name}: along a random direction over [${wrt.map(argName).join(', ')}]: ` +
        `analytic ${a}, numeric ${numeric}, |diff| ${Math.abs(a - numeric)}\n  inputs:\n${describeInputs()}`,
    );
  }
}

function sampleIndices(n: number, count: number, rng: () => number): number[] {
  const picked = new Set<number>();
  while (picked.size < count) picked.add(Math.floor(rng() * n));
  return [...picked];
}

/**
 * Second-order check: the gradient map x ↦ ∇ₓ⟨f(x), c⟩ (built with `grad`, so its backward is
 * recorded) is itself checked with `gradcheck`, which contracts it with further random
 * cotangents. This compares Hessian-vector products against finite differences of the
 * gradient. The gradients are returned as separate outputs (not summed into a scalar) so that
 * the finite differences stay element by element.
 */
export function gradgradcheck(f: (...xs: Tensor[]) => Tensor, inputs: readonly Tensor[], options: GradcheckOptions = {}): void {
  const { name = f.name || 'f', seed = 1 } = options;
  const wrt = options.wrt ?? inputs.map((_, i) => i);
  const rng = mulberry32(seed ^ 0x5bd1e995);
  const y0 = noGrad(() => f(...inputs));
  const c = randomTensor(y0.shape, rng);
  const g = (...xs: Tensor[]): Tensor[] =>
    grad((...ys: Tensor[]) => contract(f(...ys), c), { argnums: [...wrt], createGraph: true })(...xs);
  gradcheck(g, inputs, { ...options, name: `grad of ${name}` });
}
