/**
 * Forward mode (JVP): one forward pass that carries a tangent beside each value, as JAX's jvp
 * and PyTorch's forward AD do — not the double-vjp trick.
 *
 * Each active `jvp` is a level: a map from tensors to their tangents at that level. `apply`
 * calls `propagateTangents` after every primitive; for each level at which some input has a
 * tangent, the op's `jvp` rule gives the output's. Rules are ordinary Tensor ops, so:
 *   - reverse-over-forward: grad of a jvp's tangent works (the rule's ops are recorded);
 *   - forward-over-reverse: a jvp of a grad works (backward rules are ops too, and their
 *     inputs carry tangents);
 *   - forward-over-forward: the rule of level k runs with only the levels outside k active,
 *     so the tangent it computes carries the outer levels' tangents (d/ds of the inner
 *     tangent) and never one of its own level (no perturbation confusion, no wasted work).
 * A tensor without an entry has tangent zero; values made outside the graph (detach,
 * comparisons, creation functions) have none, which is their derivative.
 */
import { interpreters, type OpDef } from './op.js';
import type { Tensor } from '../tensor/tensor.js';

/** Active levels, outermost first. */
const levels: WeakMap<Tensor, Tensor>[] = [];

function propagateTangents<A>(op: OpDef<A>, inputs: readonly Tensor[], attrs: A, output: Tensor): void {
  for (let k = levels.length - 1; k >= 0; k--) {
    const level = levels[k]!;
    let any = false;
    const tangents = inputs.map((x) => {
      const t = level.get(x) ?? null;
      if (t) any = true;
      return t;
    });
    if (!any) continue;
    // The rule runs at the levels outside this one only (see the file comment).
    const inner = levels.splice(k);
    if (levels.length === 0) interpreters.tangents = null;
    try {
      level.set(output, op.jvp({ inputs, tangents, output, attrs }));
    } finally {
      levels.push(...inner);
      interpreters.tangents = propagateTangents;
    }
  }
}

/** A new forward-mode level for the duration of `fn`; `fn` gets its tangent map. */
export function withTangentLevel<T>(fn: (level: WeakMap<Tensor, Tensor>) => T): T {
  const level = new WeakMap<Tensor, Tensor>();
  levels.push(level);
  interpreters.tangents = propagateTangents;
  try {
    return fn(level);
  } finally {
    levels.splice(levels.indexOf(level), 1);
    if (levels.length === 0) interpreters.tangents = null;
  }
}

/**
 * `to` gets `from`'s tangent at every active level: for a fresh leaf (grad's own variable) or a
 * detached result standing for a value that an outer jvp perturbs, so that cutting the
 * autograd graph does not cut forward mode too.
 */
function carryTangents<T extends Tensor>(from: Tensor, to: T): T {
  for (const level of levels) {
    const t = level.get(from);
    if (t) level.set(to, t);
  }
  return to;
}

/** t.detach(), keeping its tangents (see carryTangents). */
export function detachKeepingTangents(t: Tensor): Tensor {
  return levels.length === 0 ? t.detach() : carryTangents(t, t.detach());
}
