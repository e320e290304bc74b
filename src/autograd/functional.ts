/**
 * Every op as a function, in one place: the Tensor methods forward here, and the package
 * index re-exports it. Primitives live in ops/ (one file each, forward and backward);
 * composites in composite/ (no backward of their own); non-differentiable ops in nondiff.ts.
 */
export { abs } from './ops/abs.js';
export { add } from './ops/add.js';
export { avgPool2d, type AvgPool2dOptions } from './ops/avg-pool2d.js';
export { cast } from './ops/cast.js';
export { concat } from './ops/concat.js';
export { conv2d, type Conv2dOptions } from './ops/conv2d.js';
export { clone, contiguous } from './ops/copy.js';
export { div } from './ops/div.js';
export { elu } from './ops/elu.js';
export { exp } from './ops/exp.js';
export { expand } from './ops/expand.js';
export { gather } from './ops/gather.js';
export { identity } from './ops/identity.js';
export { log } from './ops/log.js';
export { matmul } from './ops/matmul.js';
export { maxPool2d, type PoolOptions } from './ops/max-pool2d.js';
export { maximum } from './ops/maximum.js';
export { minimum } from './ops/minimum.js';
export { mul } from './ops/mul.js';
export { neg } from './ops/neg.js';
export { pad } from './ops/pad.js';
export { permute } from './ops/permute.js';
export { pow } from './ops/pow.js';
export { powScalar } from './ops/pow-scalar.js';
export { relu } from './ops/relu.js';
export { reshape } from './ops/reshape.js';
export { scatterAdd } from './ops/scatter-add.js';
export { sigmoid } from './ops/sigmoid.js';
export { slice, type SliceSpec } from './ops/slice.js';
export { softplus } from './ops/softplus.js';
export { sqrt } from './ops/sqrt.js';
export { sub } from './ops/sub.js';
export { sum } from './ops/sum.js';
export { tanh } from './ops/tanh.js';
export { where } from './ops/where.js';
export { cumsum } from './ops/cumsum.js';
export { logcumsumexp } from './ops/logcumsumexp.js';
export { cumprod, prod } from './composite/prod.js';
export { norm, type NormOrder } from './composite/norm.js';
export { einsum } from './composite/einsum.js';
// Math ops (docs/ops-math.md): functions only, not Tensor methods, so that a bundle pays only for
// the ones it imports.
export { acos } from './ops/acos.js';
export { acosh } from './ops/acosh.js';
export { asin } from './ops/asin.js';
export { asinh } from './ops/asinh.js';
export { atan } from './ops/atan.js';
export { atan2 } from './ops/atan2.js';
export { atanh } from './ops/atanh.js';
export { cos } from './ops/cos.js';
export { cosh } from './ops/cosh.js';
export { erf } from './ops/erf.js';
export { erfc } from './ops/erfc.js';
export { expm1 } from './ops/expm1.js';
export { gelu, type GeluApproximate } from './ops/gelu.js';
export { log1p } from './ops/log1p.js';
export { logSigmoid } from './ops/log-sigmoid.js';
export { ceil, floor, round } from './ops/rounding.js';
export { rsqrt } from './ops/rsqrt.js';
export { sin } from './ops/sin.js';
export { sinh } from './ops/sinh.js';
export { tan } from './ops/tan.js';
export { hardtanh, leakyRelu, mish, silu, softsign } from './composite/activations.js';

export { clamp, reciprocal, square } from './composite/elementwise.js';
export { crossEntropy, mseLoss, nllLoss, type CrossEntropyOptions, type NllLossOptions, type Reduction } from './composite/loss.js';
export {
  binaryCrossEntropy,
  binaryCrossEntropyWithLogits,
  huberLoss,
  klDiv,
  smoothL1Loss,
  type BinaryCrossEntropyOptions,
  type BinaryCrossEntropyWithLogitsOptions,
  type HuberLossOptions,
  type KlDivOptions,
  type KlDivReduction,
  type SmoothL1LossOptions,
} from './composite/loss-pointwise.js';
export {
  logSoftmax,
  logsumexp,
  max,
  mean,
  min,
  softmax,
  variance,
  type ValuesIndices,
  type VarOptions,
} from './composite/reduce.js';
export { flatten, squeeze, stack, transpose, unsqueeze } from './composite/shape.js';
export { layerNorm } from './composite/layer-norm.js';
export { attentionWeights, scaledDotProductAttention, type AttentionOptions } from './composite/attention.js';
export { conv1d, type Conv1dOptions } from './composite/conv1d.js';
export { convTranspose2d, type ConvTranspose2dOptions } from './composite/conv-transpose2d.js';
export { embedding, type EmbeddingOptions } from './composite/embedding.js';
export { groupNorm } from './composite/group-norm.js';
export { argmax, argmin, eq, ge, gt, le, lt, ne, sign } from './nondiff.js';

export { backward, gradients, unbroadcast } from './engine.js';
export { enableGrad, isGradEnabled, noGrad } from './mode.js';
