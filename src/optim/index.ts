/** Optimizers: estimator × update rule × schedule (docs/design.md §9). */
export type { Estimator, Schedule, StepContext, UpdateRule } from './estimator.js';
export { SgdEstimator } from './sgd.js';
export { SvrgEstimator, svrg, bSvrg, bpSvrg, alphaSvrg, type AlphaSchedule, type SvrgOptions, type SvrgVariant } from './svrg.js';
export { StreamingSvrgEstimator, ScsgEstimator, type MegaBatchOptions, type ScsgOptions, type StreamingSvrgOptions } from './streaming.js';
export { SagaEstimator, type SagaOptions } from './saga.js';
export { SgdUpdate, type SgdUpdateOptions } from './sgd-update.js';
export { Adam, AdamW, type AdamOptions } from './adam.js';
export { RMSprop, type RMSpropOptions } from './rmsprop.js';
export { Adagrad, type AdagradOptions } from './adagrad.js';
export { PerParameterUpdate, type ParameterState, type SavedParameterState, type SavedTensor, type SavedUpdateState } from './update-rule.js';
export {
  ClippedUpdate,
  clipDirectionNorm,
  clipDirectionValue,
  clipGradNorm,
  clipGradValue,
  type ClipNormOptions,
  type ClipOptions,
  type NormType,
  type ResolvedClip,
} from './clip-grad.js';
export type { SnapshotPoint } from './snapshot-point.js';
export {
  constantLR,
  cyclicBatchSize,
  cyclicLR,
  linearScaling,
  schedule,
  sqrtScaling,
  stepDecayLR,
  TailAverage,
  type BatchSizeFn,
  type LearningRateFn,
} from './schedules.js';
export { batchGradientAt, flattenDirection, fullGradientAt } from './gradient.js';
export { NonFiniteError, stepSeed, train, type StepInfo, type TrainOptions, type TrainResult, type TrainState } from './train.js';
