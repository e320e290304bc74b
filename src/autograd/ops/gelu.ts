/**
 * GELU, as torch.nn.functional.gelu:
 *   approximate 'none':  x·Φ(x) = ½x·erfc(−x/√2),            d/dx = Φ(x) + x·φ(x);
 *   approximate 'tanh':  ½x(1 + tanh u) = x·σ(2u),            d/dx = s + x·s(1 − s)·2u',
 * with Φ, φ the standard normal CDF and density, u = √(2/π)(x + 0.044715x³), s = σ(2u).
 * NOTE: a primitive, not ½x(1 + erf(x/√2)) of erf: for x ≪ 0, 1 + erf cancels (gelu(−10) =
 * −7.6e-23, and the composite gives 0), and even the erfc form loses float32 precision in its
 * intermediates. One kernel computes it in float64 and rounds once. The backward is written with
 * erfc, exp and sigmoid, so it is differentiable again (the second derivative is (2 − x²)φ(x)
 * for the exact form).
 */
import { ValueError, describeValue } from '../../tensor/errors.js';
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { elementwiseBatch, unaryJvp } from '../rules.js';
import { mapTensor } from './_kernels.js';
import { erfc } from './erfc.js';

/** GELU's two forms, as PyTorch's `approximate` argument names them. */
export type GeluApproximate = 'none' | 'tanh';

export const geluOp = defineOp<{
  /** 'none': the exact x·Φ(x); 'tanh': the tanh approximation. */
  approximate: GeluApproximate;
}>({
  name: 'gelu',
  forward: ([x], { approximate }) => (approximate === 'none' ? mapTensor('errorFunction', x!, 2) : mapTensor('geluTanh', x!)),
  save: ([x]) => [x!],
  backward: (ctx, gradOut) => {
    const [x] = ctx.saved;
    return [gradOut.mul(slope(x!, ctx.attrs.approximate))];
  },
  jvp: unaryJvp((x, _y, { approximate }) => slope(x, approximate)),
  batch: elementwiseBatch(([x], { approximate }) => gelu(x!, approximate)),
  describe: ({ approximate }) => `approximate=${approximate}`,
});

const KAPPA = 0.044715;
/** 2·√(2/π): 2u = TWO_BETA·(x + κx³). */
const TWO_BETA = 1.5957691216057308;

function slope(x: Tensor, approximate: GeluApproximate): Tensor {
  if (approximate === 'none') {
    // Φ(x) + x·φ(x) = ½erfc(−x/√2) + x·e^{−x²/2}/√(2π).
    const cdf = erfc(x.mul(-Math.SQRT1_2)).mul(0.5);
    return cdf.add(x.mul(x.mul(x).mul(-0.5).exp()).mul(0.3989422804014327));
  }
  // s + x·s·σ(−2u)·(2u)': σ(−2u) rather than 1 − s, which cancels for x ≫ 0.
  const x2 = x.mul(x);
  const twoU = x2.mul(KAPPA).add(1).mul(x).mul(TWO_BETA);
  const s = twoU.sigmoid();
  const dTwoU = x2.mul(3 * KAPPA).add(1).mul(TWO_BETA);
  return s.add(x.mul(s).mul(twoU.neg().sigmoid()).mul(dTwoU));
}

/**
 * Elementwise GELU (float x), as torch.nn.functional.gelu: `approximate` 'none' (default) is the
 * exact x·Φ(x) = ½x(1 + erf(x/√2)), 'tanh' the approximation ½x(1 + tanh(√(2/π)(x + 0.044715x³))).
 * Differentiable to any order; accurate for x ≪ 0 too (no 1 + erf cancellation). A function, not
 * a Tensor method. Throws ValueError for any other `approximate`.
 */
export function gelu(x: Tensor, approximate: GeluApproximate = 'none'): Tensor {
  floatOperand('gelu', x);
  if (approximate !== 'none' && approximate !== 'tanh') {
    throw new ValueError(`gelu: expected approximate to be 'none' or 'tanh'; got ${describeValue(approximate)}`);
  }
  return apply(geluOp, [x], { approximate });
}
