/**
 * Oracle family 8 (`ops_ext.json`): one op per case, like `ops`, plus a second-order check.
 * The op runs on the case's operands; `grad_<m>` is the gradient of φ = sum(out · R) for every
 * differentiable operand m (float, not in `config.no_grad`), and `hvp_<m>` the gradient of
 * ψ = Σ_m sum(grad_m · v_m): the m block of the Hessian of φ times the joint direction v, by
 * double backward (packages/lab/oracle/README.md, "Family 8").
 *
 * The ops come from three tables, one per kind (math, reductions and scans, losses).
 */
import * as F from 'gradscope';
import type { FloatDType, Tensor } from 'gradscope';
import { inputOf, toTensor, type Family, type OracleCase, type Results } from '../format.js';
import { LOSS_OPS } from './ops-ext-loss.js';
import { MATH_OPS } from './ops-ext-math.js';
import { REDUCE_OPS } from './ops-ext-reduce.js';

type OpFn = (xs: Tensor[], c: Record<string, any>) => Tensor;

const OPS: ReadonlyMap<string, OpFn> = new Map([...MATH_OPS, ...REDUCE_OPS, ...LOSS_OPS]);

export const opsExtFamily: Family = {
  missing: (c: OracleCase) => (OPS.has(c.config.op) ? null : String(c.config.op)),

  run(c: OracleCase, dtype: FloatDType): Results {
    const names: string[] = c.config.operands;
    const noGrad: string[] = c.config.no_grad;
    const operands = names.map((n) => {
      const t = toTensor(inputOf(c, n), dtype);
      return t.dtype === 'int32' || noGrad.includes(n) ? t : t.requireGrad();
    });
    const out = OPS.get(c.config.op)!(operands, c.config);
    const results: Results = { out: out.detach() };
    const differentiable = operands.filter((t) => t.requiresGrad);
    const name = (t: Tensor): string => names[operands.indexOf(t)]!;
    const cotangent = toTensor(inputOf(c, 'cotangent'), dtype);
    // A piecewise-constant op (floor, sign) leaves no graph: its gradients are exactly zero.
    const grads = out.requiresGrad
      ? F.gradients([out], differentiable, { gradOutputs: [cotangent], createGraph: true, allowUnused: true })
      : differentiable.map((t) => F.zerosLike(t));
    differentiable.forEach((t, k) => (results[`grad_${name(t)}`] = grads[k]!.detach()));
    // ψ = Σ_m <grad_m, v_m>. Where φ is piecewise linear the gradients do not depend on the
    // operands at all (ψ has no graph) and the HVP is exactly zero.
    const psi = grads.map((g, k) => F.sum(F.mul(g, toTensor(inputOf(c, `v_${name(differentiable[k]!)}`), dtype)))).reduce((a, b) => F.add(a, b));
    differentiable.forEach((t) => {
      results[`hvp_${name(t)}`] = psi.requiresGrad ? F.gradients([psi], [t], { allowUnused: true, retainGraph: true })[0]! : F.zerosLike(t);
    });
    return results;
  },
};
