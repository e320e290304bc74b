/**
 * The pure-TypeScript CPU backend: the reference every other backend is compared against,
 * and the one that works everywhere (Node, browsers, workers), in float32 and float64.
 */
import type { Backend } from '../backend.js';
import { batchNormBackward, batchNormForward } from './batch-norm.js';
import { channelAffine, channelAffineBackward, channelSums } from './channel-affine.js';
import { conv2d, conv2dBackwardInput, conv2dBackwardWeight } from './conv.js';
import { crossEntropy, crossEntropyBackward } from './cross-entropy.js';
import { addScaledInPlace, copyInto, map, outerRows, where, zip } from './elementwise.js';
import { gather, scatterAdd } from './indexing.js';
import { layerNormBackward, layerNormForward } from './layer-norm.js';
import { matmul } from './matmul.js';
import { avgPool2d, avgPool2dBackward, maxPool2d, maxPool2dBackward } from './pool.js';
import { argReduce, reduce } from './reduce.js';
import { linearScan, scan } from './scan.js';

/** The 'cpu' backend: always registered, and the fallback of the wasm and GPU.js backends. */
export const cpuBackend: Backend = {
  name: 'cpu',
  map,
  zip,
  where,
  reduce,
  argReduce,
  scan,
  linearScan,
  matmul,
  outerRows,
  addScaledInPlace,
  copyInto,
  gather,
  scatterAdd,
  conv2d,
  conv2dBackwardInput,
  conv2dBackwardWeight,
  maxPool2d,
  maxPool2dBackward,
  avgPool2d,
  avgPool2dBackward,
  crossEntropy,
  crossEntropyBackward,
  batchNormForward,
  batchNormBackward,
  channelAffine,
  channelSums,
  channelAffineBackward,
  layerNormForward,
  layerNormBackward,
};
