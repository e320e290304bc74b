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
import { castOp } from './ops/cast.js';
import { concatOp } from './ops/concat.js';
import { conv2dBackwardInputOp } from './ops/conv2d-backward-input.js';
import { conv2dBackwardWeightOp } from './ops/conv2d-backward-weight.js';
import { conv2dOp } from './ops/conv2d.js';
import { copyOp } from './ops/copy.js';
import { divOp } from './ops/div.js';
import { eluOp } from './ops/elu.js';
import { expOp } from './ops/exp.js';
import { expandOp } from './ops/expand.js';
import { gatherOp } from './ops/gather.js';
import { identityOp } from './ops/identity.js';
import { logOp } from './ops/log.js';
import { matmulOp } from './ops/matmul.js';
import { maximumOp } from './ops/maximum.js';
import { minimumOp } from './ops/minimum.js';
import { mulOp } from './ops/mul.js';
import { negOp } from './ops/neg.js';
import { padOp } from './ops/pad.js';
import { permuteOp } from './ops/permute.js';
import { powScalarOp } from './ops/pow-scalar.js';
import { powOp } from './ops/pow.js';
import { reluOp } from './ops/relu.js';
import { reshapeOp } from './ops/reshape.js';
import { scatterAddOp } from './ops/scatter-add.js';
import { sigmoidOp } from './ops/sigmoid.js';
import { sliceOp } from './ops/slice.js';
import { softplusOp } from './ops/softplus.js';
import { sqrtOp } from './ops/sqrt.js';
import { subOp } from './ops/sub.js';
import { sumOp } from './ops/sum.js';
import { tanhOp } from './ops/tanh.js';
import { unsliceOp } from './ops/unslice.js';
import { whereOp } from './ops/where.js';

export const OPS = {
  identity: identityOp,
  cast: castOp,
  copy: copyOp,
  neg: negOp,
  exp: expOp,
  log: logOp,
  sqrt: sqrtOp,
  abs: absOp,
  relu: reluOp,
  sigmoid: sigmoidOp,
  tanh: tanhOp,
  elu: eluOp,
  softplus: softplusOp,
  powScalar: powScalarOp,
  add: addOp,
  sub: subOp,
  mul: mulOp,
  div: divOp,
  pow: powOp,
  maximum: maximumOp,
  minimum: minimumOp,
  where: whereOp,
  sum: sumOp,
  matmul: matmulOp,
  conv2d: conv2dOp,
  conv2dBackwardInput: conv2dBackwardInputOp,
  conv2dBackwardWeight: conv2dBackwardWeightOp,
  avgPool2d: avgPool2dOp,
  avgPool2dBackward: avgPool2dBackwardOp,
  reshape: reshapeOp,
  permute: permuteOp,
  expand: expandOp,
  slice: sliceOp,
  unslice: unsliceOp,
  pad: padOp,
  concat: concatOp,
  gather: gatherOp,
  scatterAdd: scatterAddOp,
} satisfies Record<OpName, OpDef<any>>;
