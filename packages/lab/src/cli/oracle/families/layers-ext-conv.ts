/**
 * Oracle family 9 (`layers_ext.json`), its convolution, embedding and group-norm cases
 * (packages/lab/oracle/README.md, "Family 9"): each runs the functional op once and returns
 * `out` and `grad_<name>` = d/d<name> of phi = sum(out * cotangent) for every float input and
 * every parameter — exactly the keys the case expects.
 */
import { conv1d, convTranspose2d, embedding, groupNorm, type FloatDType } from 'gradscope';
import { inputOf, toTensor, type OracleCase, type Results } from '../format.js';
import { paramsOf, vjpResults } from './vjp.js';

function runGroupNorm(c: OracleCase, dtype: FloatDType): Results {
  const x = toTensor(inputOf(c, 'x'), dtype).requireGrad();
  const p = paramsOf(c, dtype);
  const out = c.config.affine ? groupNorm(x, c.config.num_groups, p.weight, p.bias, c.config.eps) : groupNorm(x, c.config.num_groups, null, null, c.config.eps);
  return vjpResults(c, dtype, out, { x, ...p });
}

function runEmbedding(c: OracleCase, dtype: FloatDType): Results {
  const indices = toTensor(inputOf(c, 'indices'), dtype);
  const p = paramsOf(c, dtype);
  const out = embedding(indices, p.weight!, { paddingIdx: c.config.padding_idx });
  // The indices are integers: no gradient (README, Family 9).
  return vjpResults(c, dtype, out, p);
}

function runConv1d(c: OracleCase, dtype: FloatDType): Results {
  const cfg = c.config;
  const x = toTensor(inputOf(c, 'x'), dtype).requireGrad();
  const p = paramsOf(c, dtype);
  const out = conv1d(x, p.weight!, cfg.bias ? p.bias : null, { stride: cfg.stride, padding: cfg.padding, dilation: cfg.dilation, groups: cfg.groups });
  return vjpResults(c, dtype, out, { x, ...p });
}

function runConvTranspose2d(c: OracleCase, dtype: FloatDType): Results {
  const cfg = c.config;
  const x = toTensor(inputOf(c, 'x'), dtype).requireGrad();
  const p = paramsOf(c, dtype);
  const out = convTranspose2d(x, p.weight!, cfg.bias ? p.bias : null, {
    stride: cfg.stride,
    padding: cfg.padding,
    outputPadding: cfg.output_padding,
    dilation: cfg.dilation,
    groups: cfg.groups,
  });
  return vjpResults(c, dtype, out, { x, ...p });
}

/** The layers_ext ops this table runs, keyed by config.op. */
export const CONV_LAYERS: ReadonlyMap<string, (c: OracleCase, dtype: FloatDType) => Results> = new Map([
  ['group_norm', runGroupNorm],
  ['embedding', runEmbedding],
  ['conv1d', runConv1d],
  ['conv_transpose2d', runConvTranspose2d],
]);
