/**
 * gradscope: a from-scratch reverse-mode autodiff and tensor engine.
 *
 * @example
 * import { tensor, grad } from 'gradscope';
 * const x = tensor([1, 2, 3], { dtype: 'float64' });
 * grad((x) => x.pow(3).sum())(x); // 3x² = [3, 12, 27]
 */
export * from './autograd/functional.js';
export { grad, hvp, jvp, linearize, valueAndGrad, vjp, type TransformOptions } from './autograd/transforms.js';
export type { Argnums, GradOf, GradOptions, GradsOf, Pullback, TensorTree, VjpOptions } from './autograd/transforms.js';
export { hessian, jacfwd, jacrev, type JacobianOf, type JacobianOptions, type JacrevOptions } from './autograd/jacobians.js';
export { vmap, type AxisSpec, type VmapOptions } from './autograd/vmap.js';
export type { VmapRandomness } from './tensor/random-context.js';
export { graphOf, toDot, toMermaid, type GraphEdge, type GraphNode } from './autograd/graph.js';
export { OPS } from './autograd/registry.js';
export type { OpDef, OpName } from './autograd/op.js';

export { Tensor, type BackwardOptions, type NestedArray } from './tensor/tensor.js';
export {
  arange,
  bernoulli,
  eye,
  full,
  linspace,
  ones,
  onesLike,
  rand,
  randint,
  randn,
  randperm,
  tensor,
  zeros,
  zerosLike,
  type CreateOptions,
  type RandomOptions,
} from './tensor/creation.js';
export { foldIn, makeKey, normalFromBits, randomBits, splitKey, threefry2x32, uniformStream, type Key } from './tensor/random.js';
export { getDefaultDType, getMaxTensorBytes, setDefaultDType, setMaxTensorBytes, type DType, type FloatDType } from './tensor/dtype.js';
export { emptyTidyPool, keep, POOL_MAX_BYTES, tidy, tidyPoolSize, untracked, type TidyPoolSize } from './tensor/tidy.js';
export { AllocationError, describeValue, DTypeError, GradError, InternalError, ShapeError, ValueError } from './tensor/errors.js';
export {
  backendReady,
  currentBackendInfo,
  getBackend,
  listBackends,
  loadBackend,
  registerBackend,
  registerBackendFactory,
  setBackend,
  useBackend,
  type BackendInfo,
} from './kernels/registry.js';
export type { Backend, ScanFn } from './kernels/backend.js';
export { requestedWasmThreads, setWasmThreads, wasmThreads } from './kernels/wasm/index.js';
// GRADSCOPE_THREADS: start the threads on import (Node); a bundle drops this (see the module).
import './kernels/wasm/threads-env.js';
export { relaxedSimdAvailable } from './kernels/wasm/runtime.js';
export { relaxedSimdProbeBytes } from './kernels/wasm/gemm-module.js';
export { GPU_JS_VERSION } from './kernels/gpu/provide.js';

export * from './nn/index.js';
export {
  crossEntropyLoss,
  perSampleGrads,
  perSampleJacobian,
  PerSampleWorkspace,
  type Batch,
  type JacobianResult,
  type PerSampleChunk,
  type PerSampleRows,
  type PerSampleLoss,
  type PerSampleOptions,
  type PerSampleResult,
} from './nn/per-sample.js';
export { vmapPerSampleGrads } from './nn/per-sample-vmap.js';
export { perSampleGradients, type PerSampleAllocator } from './autograd/per-sample.js';
export { fullHessian, operatorMatrix, perLayerCurvature, restrictOperator, type LayerCurvature, type LayerCurvatureOptions } from './analysis/curvature.js';
export { symmetricEigenvalues, tridiagonalEigen, type TridiagonalEigen } from './analysis/eigen.js';
export {
  frobeniusNorm,
  hutchinsonTrace,
  lanczos,
  rademacher,
  spectralDensity,
  type Estimate,
  type LanczosOptions,
  type LanczosResult,
  type LinearOperator,
  type ProbeOptions,
  type SpectralDensity,
  type SpectralDensityOptions,
} from './analysis/lanczos.js';
export { flatGradient, hessianOperator, hessianVectorProduct, objective, withMode, type BatchNormMode, type ObjectiveOptions } from './analysis/objective.js';
export * from './analysis/gradient-stats.js';
export * from './analysis/interpolation.js';
export * from './analysis/gram.js';
export * from './analysis/stability.js';
export { hessianSummary, type HessianSummary, type HessianSummaryOptions } from './analysis/hessian-summary.js';
export { meanVarianceFactor, streamingStepVariance, type StreamingStepOptions, type StreamingStepVariance } from './analysis/streaming-variance.js';

// Optimizers and the training loop; data contracts, samplers, splits, augmentations and
// synthetic problems (the MNIST/Fashion-MNIST loaders touch the file system: 'gradscope/data').
export * from './optim/index.js';
export type { Batch as DataBatch, Dataset, Sample } from './data/dataset.js';
export * from './data/sampler.js';
export * from './data/split.js';
export * from './data/augment.js';
export {
  ArrayDataset,
  diagonalLinear,
  gaussianMixture,
  QuadraticProblem as QuadraticDataset,
  quadraticSum,
  reluTeacher,
  reluTeacherOutput,
  TeacherProblem,
  type DiagonalLinearOptions,
  type GaussianMixtureOptions,
  type QuadraticOptions,
  type ReluTeacherOptions,
} from './data/synthetic.js';
export { customOp, type CustomOpBackwardContext, type CustomOpDefinition } from './autograd/custom-op.js';

// Types that the signatures above mention: exported so that users can name them and the API
// reference can document them. Classes among them (Storage, Node, Context, WasmRuntime,
// OptimRng) are exported as types only: gradscope constructs them.
export type { Storage, View } from './tensor/storage.js';
export type { Shape } from './tensor/shape.js';
export type { FloatArray, TypedArray } from './tensor/dtype.js';
export type { BatchArgs, Batched, Context, JvpArgs, Node } from './autograd/op.js';
export type { GradientOptions } from './autograd/engine.js';
export type { PyTree } from './autograd/pytree.js';
export type { OutputWorkspace } from './autograd/vmap-workspace.js';
export type { SliceAttrs } from './autograd/ops/slice.js';
export type { ScanAttrs } from './autograd/ops/cumsum.js';
export type { LayerNormAttrs } from './autograd/ops/layer-norm-backward.js';
export type { ReplaceLeaves } from './autograd/jacobians.js';
export type { AnyFn, ArgAt, AuxOf, OutOf, TensorFn, WithAux, WithAuxFalse, WithAuxTrue } from './autograd/transforms.js';
export type { AvgPoolGeometry, Conv2dGeometry, Pair, PoolGeometry } from './kernels/geometry.js';
export type { Arena } from './kernels/backend.js';
export type { BackendFactory } from './kernels/registry.js';
export type { ArgReduceFn, BINARY, BinaryFn, ReduceFn, UNARY, UnaryFn } from './kernels/scalar.js';
export type { ThreadOptions } from './kernels/wasm/threads.js';
export type { KernelMemory, WasmRuntime } from './kernels/wasm/runtime.js';
export type { GemmExports, SliverPacker, TileShape } from './kernels/wasm/gemm-module.js';
export type { OptimRng } from './optim/rng.js';
export type { SavedVector } from './optim/gradient.js';
export type { TrackerState } from './optim/snapshot-point.js';
export type { SvrgState } from './optim/svrg.js';
export type { MegaState } from './optim/streaming.js';
