/**
 * Oracle family 2 (`conv_pool.json`): conv2d (with optional bias), max_pool2d (values, indices,
 * gradient) and avg_pool2d, each checked as a vector-Jacobian product with the stored cotangent.
 */
import * as F from 'gradscope';
import type { FloatDType, Tensor } from 'gradscope';
import { inputOf, toTensor, type Family, type OracleCase, type Results } from '../format.js';

const SUPPORTED = new Set(['conv2d', 'max_pool2d', 'avg_pool2d']);

export const convPoolFamily: Family = {
  missing(c: OracleCase) {
    if (!SUPPORTED.has(c.config.op)) return String(c.config.op);
    if (c.config.ceil_mode) return `${c.config.op} with ceil_mode`;
    if (c.config.divisor_override !== undefined && c.config.divisor_override !== null) return 'avg_pool2d with divisor_override';
    return null;
  },

  run(c: OracleCase, dtype: FloatDType): Results {
    const cfg = c.config;
    const x = toTensor(inputOf(c, 'x'), dtype).requireGrad();
    const params: Record<string, Tensor> = {};
    for (const [name, t] of Object.entries(c.params)) params[name] = toTensor(t, dtype).requireGrad();
    const results: Results = {};
    let out: Tensor;
    if (cfg.op === 'conv2d') {
      out = F.conv2d(x, params.weight!, { stride: cfg.stride, padding: cfg.padding, dilation: cfg.dilation, groups: cfg.groups });
      if (params.bias) out = out.add(params.bias.reshape([1, params.bias.size, 1, 1]));
    } else if (cfg.op === 'max_pool2d') {
      const r = F.maxPool2d(x, cfg.kernel_size, { stride: cfg.stride, padding: cfg.padding, dilation: cfg.dilation });
      out = r.values;
      results.indices = r.indices;
    } else {
      out = F.avgPool2d(x, cfg.kernel_size, { stride: cfg.stride, padding: cfg.padding, countIncludePad: cfg.count_include_pad });
    }
    results.out = out.detach();
    const names = ['x', ...Object.keys(params)];
    const grads = F.gradients([out], [x, ...Object.values(params)], { gradOutputs: [toTensor(inputOf(c, 'cotangent'), dtype)] });
    names.forEach((n, i) => (results[`grad_${n}`] = grads[i]!));
    return results;
  },
};
