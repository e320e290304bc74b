/**
 * The table of every primitive. `satisfies Record<OpName, OpDef>` makes a name without an
 * entry (or an entry without a name) a compile error — there is no string registry filled by
 * import side effects.
 */
import type { OpDef, OpName } from './op.js';
import { absOp } from './ops/abs.js';
import { addOp } from './ops/add.js';
import { avgPool2dBackwardOp } from './ops/avg-pool2d-backward.js';
import { avgPool2dOp } from './ops/avg-pool2d.js';
import { batchNormTrainBackwardOp } from './ops/batch-norm-backward.js';
import { batchNormTrainOp } from './ops/batch-norm.js';
import { channelAffineOp } from './ops/channel-affine.js';
import { channelAffineBackwardOp } from './ops/channel-affine-backward.js';
import { channelSumsOp } from './ops/channel-sums.js';
import { layerNormBackwardOp } from './ops/layer-norm-backward.js';
import { layerNormOp } from './ops/layer-norm.js';
import { castOp } from './ops/cast.js';
import { concatOp } from './ops/concat.js';
import { conv2dBackwardInputOp } from './ops/conv2d-backward-input.js';
import { conv2dBackwardWeightOp } from './ops/conv2d-backward-weight.js';
import { conv2dOp } from './ops/conv2d.js';
import { copyOp } from './ops/copy.js';
import { crossEntropyBackwardOp } from './ops/cross-entropy-backward.js';
import { crossEntropyOp } from './ops/cross-entropy.js';
import { divOp } from './ops/div.js';
import { eluOp } from './ops/elu.js';
import { expOp } from './ops/exp.js';
import { expandOp } from './ops/expand.js';
import { gatherOp } from './ops/gather.js';
import { identityOp } from './ops/identity.js';
import { logOp } from './ops/log.js';
import { matmulOp } from './ops/matmul.js';
import { maxPool2dBackwardOp } from './ops/max-pool2d-backward.js';
import { maxPool2dOp } from './ops/max-pool2d.js';
import { maximumOp } from './ops/maximum.js';
import { minimumOp } from './ops/minimum.js';
import { mulOp } from './ops/mul.js';
import { negOp } from './ops/neg.js';
import { padOp } from './ops/pad.js';
import { permuteOp } from './ops/permute.js';
import { powScalarOp } from './ops/pow-scalar.js';
import { sinOp } from './ops/sin.js';
import { cosOp } from './ops/cos.js';
import { tanOp } from './ops/tan.js';
import { asinOp } from './ops/asin.js';
import { acosOp } from './ops/acos.js';
import { atanOp } from './ops/atan.js';
import { sinhOp } from './ops/sinh.js';
import { coshOp } from './ops/cosh.js';
import { asinhOp } from './ops/asinh.js';
import { acoshOp } from './ops/acosh.js';
import { atanhOp } from './ops/atanh.js';
import { erfOp } from './ops/erf.js';
import { erfcOp } from './ops/erfc.js';
import { log1pOp } from './ops/log1p.js';
import { expm1Op } from './ops/expm1.js';
import { rsqrtOp } from './ops/rsqrt.js';
import { logSigmoidOp } from './ops/log-sigmoid.js';
import { geluOp } from './ops/gelu.js';
import { atan2Op } from './ops/atan2.js';
import { powOp } from './ops/pow.js';
import { reluBackwardOp } from './ops/relu-backward.js';
import { reluOp } from './ops/relu.js';
import { reshapeOp } from './ops/reshape.js';
import { scatterAddOp } from './ops/scatter-add.js';
import { sigmoidOp } from './ops/sigmoid.js';
import { sliceOp } from './ops/slice.js';
import { softplusOp } from './ops/softplus.js';
import { sqrtOp } from './ops/sqrt.js';
import { subOp } from './ops/sub.js';
import { sumOp } from './ops/sum.js';
import { cumsumOp } from './ops/cumsum.js';
import { linearScanOp } from './ops/linear-scan.js';
import { logcumsumexpOp } from './ops/logcumsumexp.js';
import { tanhOp } from './ops/tanh.js';
import { unsliceOp } from './ops/unslice.js';
import { whereOp } from './ops/where.js';

/**
 * Every built-in primitive's OpDef, keyed by OpName: forward, backward, jvp and batching
 * rule in one object each. Composites (mean, softmax, losses, …) are not here: they are
 * functions of these. Useful for introspection, e.g. `OPS.mul.backward`.
 */
export const OPS = {
  /** x → x as a new graph node over the same storage (used by the transforms). */
  identity: identityOp,
  /** Dtype conversion; the gradient is cast back to the input's dtype. */
  cast: castOp,
  /** A contiguous copy in new storage (backs clone and contiguous); d/dx = 1. */
  copy: copyOp,
  /** −x. */
  neg: negOp,
  /** eˣ; backward reuses the saved output. */
  exp: expOp,
  /** ln x; d/dx = 1/x. */
  log: logOp,
  /** √x; d/dx = 1/(2√x), from the saved output. */
  sqrt: sqrtOp,
  /** |x|; d/dx = sign(x), 0 at x = 0. */
  abs: absOp,
  /** max(x, 0); d/dx = [x > 0]. */
  relu: reluOp,
  /** relu's backward g·[y > 0] in one pass; linear in g, y an attr (never differentiated). */
  reluBackward: reluBackwardOp,
  /** σ(x) = 1/(1 + e⁻ˣ); d/dx = σ(1 − σ), from the saved output. */
  sigmoid: sigmoidOp,
  /** tanh x; d/dx = 1 − tanh² x, from the saved output. */
  tanh: tanhOp,
  /** x for x > 0, else α(eˣ − 1); attrs `{ alpha }`. */
  elu: eluOp,
  /** (1/β)·ln(1 + e^{βx}), linear above the threshold; attrs `{ beta, threshold }`. */
  softplus: softplusOp,
  /** xᵖ for a constant number p; attrs `{ exponent }`. */
  powScalar: powScalarOp,
  /** sin x; d/dx = cos x. */
  sin: sinOp,
  /** cos x; d/dx = −sin x (its own primitive: sin(π/2 − x) loses precision near π/2). */
  cos: cosOp,
  /** tan x; d/dx = 1 + tan² x, from the saved output. */
  tan: tanOp,
  /** arcsin x; d/dx = 1/√((1 − x)(1 + x)). */
  asin: asinOp,
  /** arccos x; d/dx = −1/√((1 − x)(1 + x)). */
  acos: acosOp,
  /** arctan x; d/dx = 1/(1 + x²). */
  atan: atanOp,
  /** sinh x; d/dx = cosh x. */
  sinh: sinhOp,
  /** cosh x; d/dx = sinh x. */
  cosh: coshOp,
  /** arsinh x; d/dx = 1/√(x² + 1). */
  asinh: asinhOp,
  /** arcosh x; d/dx = 1/√((x − 1)(x + 1)). */
  acosh: acoshOp,
  /** artanh x; d/dx = 1/((1 − x)(1 + x)). */
  atanh: atanhOp,
  /** erf x; d/dx = (2/√π)e^{−x²}. */
  erf: erfOp,
  /** erfc x = 1 − erf x without cancellation; d/dx = −(2/√π)e^{−x²}. */
  erfc: erfcOp,
  /** ln(1 + x); d/dx = 1/(1 + x). */
  log1p: log1pOp,
  /** eˣ − 1; d/dx = eˣ. */
  expm1: expm1Op,
  /** 1/√x; d/dx = −½y³, from the saved output. */
  rsqrt: rsqrtOp,
  /** log σ(x), stable; d/dx = σ(−x). */
  logSigmoid: logSigmoidOp,
  /** x·Φ(x) or its tanh form; attrs `{ approximate }`. */
  gelu: geluOp,
  /** a + b, broadcasting. */
  add: addOp,
  /** a − b, broadcasting. */
  sub: subOp,
  /** a·b elementwise, broadcasting. */
  mul: mulOp,
  /** a / b, broadcasting; ∂/∂b from the saved quotient. */
  div: divOp,
  /** aᵇ elementwise with a tensor exponent, broadcasting. */
  pow: powOp,
  /** max(a, b) elementwise; ties split the gradient ½/½. */
  maximum: maximumOp,
  /** min(a, b) elementwise; ties split the gradient ½/½. */
  minimum: minimumOp,
  /** atan2(a, b), broadcasting; ∂/∂a = b/(a² + b²), ∂/∂b = −a/(a² + b²). */
  atan2: atan2Op,
  /** cond ? a : b elementwise; the condition is an attr, never differentiated. */
  where: whereOp,
  /** Σ over `axes`, optionally keeping them as size 1; attrs `{ axes, keepdim }`. */
  sum: sumOp,
  /** Inclusive prefix sums along `axis` (suffix sums when `reverse`); attrs `{ axis, reverse }`. */
  cumsum: cumsumOp,
  /** log Σ_{j ≤ k} exp xⱼ along `axis`, with a running maximum; attrs `{ axis, reverse }`. */
  logcumsumexp: logcumsumexpOp,
  /** The recurrence hₖ = aₖ·hₖ₋₁ + bₖ along `axis` (behind cumprod and prod); attrs `{ axis, reverse }`. */
  linearScan: linearScanOp,
  /** Per-sample −log softmax(x)[t] of logits [N, C] and int32 targets [N] (an attr), fused. */
  crossEntropy: crossEntropyOp,
  /** crossEntropy's gradient g·(softmax(x) − onehot(t)), fused; differentiable in x and g. */
  crossEntropyBackward: crossEntropyBackwardOp,
  /** Batched matrix product over the last two axes, leading axes broadcast. */
  matmul: matmulOp,
  /** 2-D cross-correlation, NCHW, with stride/padding/dilation/groups attrs. */
  conv2d: conv2dOp,
  /** conv2d's input gradient (a transposed convolution); attrs add `inputShape`. */
  conv2dBackwardInput: conv2dBackwardInputOp,
  /** conv2d's weight gradient; attrs add `weightShape`. */
  conv2dBackwardWeight: conv2dBackwardWeightOp,
  /** Window means over [N, C, H, W]. */
  avgPool2d: avgPool2dOp,
  /** avgPool2d's transpose: each gradient spread evenly over its window. */
  avgPool2dBackward: avgPool2dBackwardOp,
  /** The window maxima at indices the max-pool kernel found (linear in x given them); attrs add `indices`. */
  maxPool2d: maxPool2dOp,
  /** maxPool2d's transpose: each gradient added at its window's saved maximum. */
  maxPool2dBackward: maxPool2dBackwardOp,
  /** New shape over the same row-major elements (a view when strides allow). */
  reshape: reshapeOp,
  /** Axis permutation (a view). */
  permute: permuteOp,
  /** Broadcast to a larger shape (a stride-0 view). */
  expand: expandOp,
  /** Strided basic slicing (a view); attrs are SliceAttrs. */
  slice: sliceOp,
  /** slice's transpose: zeros with the slice written back (slice's backward). */
  unslice: unsliceOp,
  /** Constant padding per axis; attrs `{ widths, value }`. */
  pad: padOp,
  /** Join along an existing axis (torch.cat). */
  concat: concatOp,
  /** torch.gather along `axis` with a constant int32 index. */
  gather: gatherOp,
  /** gather's transpose: values added into zeros at int32 index positions. */
  scatterAdd: scatterAddOp,
  /** BatchNorm's train-mode normalization, fused; attrs `{ eps, affine }`. */
  batchNormTrain: batchNormTrainOp,
  /** batchNormTrain's three gradients in one packed vector [∂x | ∂γ | ∂β]. */
  batchNormTrainBackward: batchNormTrainBackwardOp,
  /** x·s[c] + t[c] per channel (axis 1): BatchNorm's eval mode in one pass; attrs `{ shifted }`. */
  channelAffine: channelAffineOp,
  /** channelAffine's three gradients [g·s | Σ g·x | Σ g] in one pass, packed. */
  channelAffineBackward: channelAffineBackwardOp,
  /** channelAffine's parameter gradients [Σ g·x | Σ g] per channel, packed. */
  channelSums: channelSumsOp,
  /** LayerNorm over the last k axes, fused (γ and β too when affine); attrs `{ k, eps, affine }`. */
  layerNorm: layerNormOp,
  /** layerNorm's gradient ∂x = r·P(γ g) (packed with ∂γ, ∂β when affine), fused; differentiable in x, g and γ. */
  layerNormBackward: layerNormBackwardOp,
} satisfies Record<OpName, OpDef<any>>;
