/**
 * Oracle family 8 (`ops_ext.json`), the reductions and scans: cumsum, logcumsumexp, prod, norm
 * and einsum, keyed by `config.op` (packages/lab/oracle/README.md, "Family 8"). Each entry
 * maps the case's operands (in `config.operands` order) and config to gradscope's function.
 */
import * as F from 'gradscope';
import type { NormOrder, Tensor } from 'gradscope';

type Config = Record<string, any>;

/** The oracle's `ord`: a number, or the string "inf" (JSON has no Infinity). */
function normOrder(ord: unknown): NormOrder {
  return (ord === 'inf' ? Infinity : ord) as NormOrder;
}

// A Map, not an object literal: `'constructor' in {}` is true through Object.prototype.
export const REDUCE_OPS: ReadonlyMap<string, (xs: Tensor[], c: Config) => Tensor> = new Map(Object.entries({
  cumsum: ([x], c) => F.cumsum(x!, c.dim),
  logcumsumexp: ([x], c) => F.logcumsumexp(x!, c.dim),
  cumprod: ([x], c) => F.cumprod(x!, c.dim),
  prod: ([x], c) => F.prod(x!, c.dim, c.keepdim),
  norm: ([x], c) => F.norm(x!, normOrder(c.ord), c.dim, c.keepdim),
  einsum: (xs, c) => F.einsum(c.equation, ...xs),
} satisfies Record<string, (xs: Tensor[], c: Config) => Tensor>));
