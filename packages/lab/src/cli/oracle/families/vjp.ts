/**
 * Helpers shared by the layers_ext tables (layers-ext-conv.ts, layers-ext-attention.ts): the
 * case's parameters as leaves, and `out` with the gradients of phi = sum(out * cotangent)
 * keyed `grad_<name>` — exactly the keys the cases expect.
 */
import { gradients, type FloatDType, type Tensor } from 'gradscope';
import { inputOf, paramOf, toTensor, type OracleCase, type Results } from '../format.js';

/** The case's parameters by name, each a leaf that requires grad. */
export function paramsOf(c: OracleCase, dtype: FloatDType): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const name of Object.keys(c.params)) out[name] = toTensor(paramOf(c, name), dtype).requireGrad();
  return out;
}

/**
 * `out` and the gradients of phi = sum(out * cotangent) with respect to `wrt` (name → leaf),
 * keyed `grad_<name>`.
 */
export function vjpResults(c: OracleCase, dtype: FloatDType, out: Tensor, wrt: Record<string, Tensor>): Results {
  const names = Object.keys(wrt);
  const grads = gradients([out], names.map((n) => wrt[n]!), { gradOutputs: [toTensor(inputOf(c, 'cotangent'), dtype)] });
  const results: Results = { out: out.detach() };
  names.forEach((n, i) => (results[`grad_${n}`] = grads[i]!));
  return results;
}
