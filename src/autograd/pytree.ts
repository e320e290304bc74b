/**
 * Pytrees, as in JAX: nested arrays and plain objects whose leaves are tensors (or other
 * values). Transforms take and return them, so a function of `{ weight, bias }` or of
 * `[x, [h, c]]` can be vmapped and differentiated without packing its arguments by hand.
 *
 * Containers are arrays and plain objects (prototype Object or null); anything else — a
 * Tensor, a number, a class instance — is a leaf. Object keys keep their insertion order.
 */

/**
 * A T, or arrays and plain objects of pytrees, nested (JAX's pytree with list and dict nodes;
 * there are no tuple or custom node types beyond arrays).
 */
export type PyTree<T> = T | readonly PyTree<T>[] | { readonly [key: string]: PyTree<T> };

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Whether `v` is a container (an array or a plain object) rather than a leaf. */
export function isContainer(v: unknown): v is readonly unknown[] | Record<string, unknown> {
  return Array.isArray(v) || isPlainObject(v);
}

/** The leaves of a tree in order, and a function that builds the same structure from new leaves. */
export function flattenTree(tree: unknown): {
  /** The leaves, depth first (array order, then object insertion order). */
  leaves: unknown[];
  /** The same structure with new leaves, given in the order of `leaves`. */
  unflatten: (leaves: readonly unknown[]) => unknown;
} {
  const leaves: unknown[] = [];
  const walk = (v: unknown): ((next: () => unknown) => unknown) => {
    if (Array.isArray(v)) {
      const parts = v.map(walk);
      return (next) => parts.map((p) => p(next));
    }
    if (isPlainObject(v)) {
      const parts = Object.keys(v).map((k) => [k, walk(v[k])] as const);
      return (next) => Object.fromEntries(parts.map(([k, p]) => [k, p(next)]));
    }
    leaves.push(v);
    return (next) => next();
  };
  const build = walk(tree);
  return {
    leaves,
    unflatten: (values) => {
      let i = 0;
      const out = build(() => values[i++]);
      if (i !== values.length) throw new Error(`internal: unflatten got ${values.length} leaves for a tree of ${i}`);
      return out;
    },
  };
}

/** Map every leaf of `tree` (in flatten order), keeping its structure. */
export function mapTree(tree: unknown, fn: (leaf: unknown, index: number) => unknown): unknown {
  const { leaves, unflatten } = flattenTree(tree);
  return unflatten(leaves.map(fn));
}

/**
 * A prefix spec (vmap's inAxes, outAxes) broadcast to the leaves of `tree`: a leaf of the
 * spec (a number or null) applies to every leaf under it; a container must match the tree's
 * container at the same place. `describe` names the place in errors.
 */
export function broadcastPrefix<S>(spec: unknown, tree: unknown, isSpecLeaf: (s: unknown) => s is S, where: string, fail: (message: string) => never): S[] {
  if (isSpecLeaf(spec)) return flattenTree(tree).leaves.map(() => spec);
  if (Array.isArray(spec)) {
    if (!Array.isArray(tree) || tree.length !== spec.length) {
      fail(`${where} is a list of ${spec.length} but the value there is ${Array.isArray(tree) ? `a list of ${tree.length}` : 'not a list'}`);
    }
    return spec.flatMap((s, i) => broadcastPrefix(s, (tree as unknown[])[i], isSpecLeaf, `${where}[${i}]`, fail));
  }
  if (isPlainObject(spec)) {
    if (!isPlainObject(tree)) fail(`${where} is an object but the value there is not`);
    const keys = Object.keys(tree as object);
    const specKeys = Object.keys(spec);
    if (keys.length !== specKeys.length || keys.some((k, i) => k !== specKeys[i])) {
      fail(`${where} has keys [${specKeys}] but the value there has [${keys}]`);
    }
    return keys.flatMap((k) => broadcastPrefix(spec[k], (tree as Record<string, unknown>)[k], isSpecLeaf, `${where}.${k}`, fail));
  }
  return fail(`${where} must be a number, null, a list or an object; got ${typeof spec}`);
}
