/**
 * One checked application of a linear operator (an H·v, usually), shared by every estimator in
 * analysis/ that applies one: Hutchinson, the Frobenius norm, Lanczos, SLQ, the Hessian
 * summary, dense assembly and the stability operator.
 *
 * Why check every product: a NaN or ±∞ in H·v (a diverged model, a loss that overflowed, a
 * NaN in the batch) does not fail anywhere by itself. Through Hutchinson's running mean it
 * becomes a NaN estimate after every probe has been paid for; through Lanczos's recurrence it
 * reaches the tridiagonal QL solver, which then reports a non-convergence as our own bug
 * (`internal:`). The caller's operator is at fault, so the error says so at once, naming the
 * estimator and the probe or iteration.
 */
import { tensor } from '../tensor/creation.js';
import { ValueError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';

/** v ↦ Av on vectors of `size` elements (the LinearOperator of lanczos.ts, declared here to keep imports one-way). */
interface Operator {
  size: number;
  apply: (v: Tensor) => Tensor;
}

/** The index and value of the first non-finite element, or null. */
export function firstNonFinite(values: ArrayLike<number>): { index: number; value: number } | null {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i]!)) return { index: i, value: values[i]! };
  return null;
}

const HVP_HINT = 'the Hessian-vector product is not finite at these parameters and batch (a diverged model, an overflowing loss, or NaN in the data)';

/** Throws the clear error for a non-finite operator output (`where`: 'probe 3', 'Lanczos iteration 5', …). */
export function checkOperatorOutput(caller: string, where: string, out: ArrayLike<number>, hint = HVP_HINT): void {
  const bad = firstNonFinite(out);
  if (bad) throw new ValueError(`${caller}: the operator returned non-finite values at ${where} (element ${bad.index} of ${out.length} is ${bad.value}); ${hint}`);
}

/**
 * Av for a float64 vector v, read back as float64, with its size and finiteness checked.
 * @example applyOperator(op, z, 'hutchinsonTrace', `probe ${j}`)
 */
export function applyOperator(op: Operator, v: Float64Array, caller: string, where: string): Float64Array {
  const out = op.apply(tensor(v, { dtype: 'float64' }));
  if (out.size !== op.size) throw new ValueError(`${caller}: the operator must return ${op.size} elements; got shape [${out.shape}] at ${where}`);
  const values = Float64Array.from(out.toTypedArray());
  checkOperatorOutput(caller, where, values);
  return values;
}
