/**
 * Oracle family 1 (`ops.json`): one op per case. The op runs on the case's operands, and every
 * `grad_<operand>` is the vector-Jacobian product with the stored cotangent R, i.e. the
 * gradient of sum(out · R).
 */
import * as F from 'gradscope';
import type { FloatDType, Tensor } from 'gradscope';
import { inputOf, toTensor, type Family, type OracleCase, type Results } from '../format.js';

type Config = Record<string, any>;

/** What an op returns: its output and, for max/min, the indices. */
type OpResult = { out: Tensor; indices?: Tensor };

// A Map, not an object literal: `'constructor' in {}` is true through Object.prototype.
const OPS = new Map<string, (x: Tensor[], c: Config) => OpResult>(Object.entries({
  add: ([a, b]) => ({ out: F.add(a!, b!) }),
  sub: ([a, b]) => ({ out: F.sub(a!, b!) }),
  mul: ([a, b]) => ({ out: F.mul(a!, b!) }),
  div: ([a, b]) => ({ out: F.div(a!, b!) }),
  pow: ([a, b]) => ({ out: F.pow(a!, b!) }),
  pow_scalar: ([x], c) => ({ out: F.pow(x!, c.exponent) }),
  neg: ([x]) => ({ out: F.neg(x!) }),
  exp: ([x]) => ({ out: F.exp(x!) }),
  log: ([x]) => ({ out: F.log(x!) }),
  sqrt: ([x]) => ({ out: F.sqrt(x!) }),
  tanh: ([x]) => ({ out: F.tanh(x!) }),
  sigmoid: ([x]) => ({ out: F.sigmoid(x!) }),
  relu: ([x]) => ({ out: F.relu(x!) }),
  abs: ([x]) => ({ out: F.abs(x!) }),
  elu: ([x], c) => ({ out: F.elu(x!, c.alpha) }),
  softplus: ([x], c) => ({ out: F.softplus(x!, c.beta, c.threshold) }),
  sum: ([x], c) => ({ out: F.sum(x!, c.dim, c.keepdim) }),
  mean: ([x], c) => ({ out: F.mean(x!, c.dim, c.keepdim) }),
  max: ([x], c) => {
    const r = F.max(x!, c.dim, c.keepdim);
    return { out: r.values, indices: r.indices };
  },
  min: ([x], c) => {
    const r = F.min(x!, c.dim, c.keepdim);
    return { out: r.values, indices: r.indices };
  },
  reshape: ([x], c) => ({ out: F.reshape(x!, c.shape) }),
  transpose: ([x], c) => ({ out: F.transpose(x!, c.dim0, c.dim1) }),
  permute: ([x], c) => ({ out: F.permute(x!, c.dims) }),
  slice: ([x], c) => ({ out: F.slice(x!, c.slices) }),
  concat: (xs, c) => ({ out: F.concat(xs, c.dim) }),
  matmul: ([a, b]) => ({ out: F.matmul(a!, b!) }),
  logsumexp: ([x], c) => ({ out: F.logsumexp(x!, c.dim, c.keepdim) }),
  softmax: ([x], c) => ({ out: F.softmax(x!, c.dim) }),
  log_softmax: ([x], c) => ({ out: F.logSoftmax(x!, c.dim) }),
  cross_entropy: ([input, target], c) => ({ out: F.crossEntropy(input!, target!, c.reduction) }),
  mse_loss: ([a, b], c) => ({ out: F.mseLoss(a!, b!, c.reduction) }),
} satisfies Record<string, (x: Tensor[], c: Config) => OpResult>));

export const opsFamily: Family = {
  missing: (c: OracleCase) => (OPS.has(c.config.op) ? null : String(c.config.op)),

  run(c: OracleCase, dtype: FloatDType): Results {
    const names: string[] = c.config.operands;
    const operands = names.map((n) => {
      const t = toTensor(inputOf(c, n), dtype);
      return t.dtype === 'int32' ? t : t.requireGrad();
    });
    const { out, indices } = OPS.get(c.config.op)!(operands, c.config);
    const results: Results = { out: out.detach() };
    if (indices) results.indices = indices;
    const differentiable = operands.filter((t) => t.requiresGrad);
    const cotangent = toTensor(inputOf(c, 'cotangent'), dtype);
    const grads = F.gradients([out], differentiable, { gradOutputs: [cotangent] });
    differentiable.forEach((t, k) => (results[`grad_${names[operands.indexOf(t)]}`] = grads[k]!));
    return results;
  },
};
