/**
 * vmap(f, { inAxes, outAxes, chunkSize, randomness }): f written for one sample, run on a
 * batch at once — `vmap(f)(x)[i] = f(x[i])` — as `torch.func.vmap` and `jax.vmap`.
 *
 * Every primitive has a batching rule (op.ts `batch`), so f may be any function of tensors:
 * the batch axis is wherever inAxes says, rules move it as they need, and no rule guesses it
 * from a size. Composes with every other transform in both orders: `vmap(grad(f))` gives
 * per-sample gradients, `grad` of a function that calls vmap differentiates the batched
 * computation, `vmap(vmap(f))` nests, and so do `vmap(jvp)` and `vmap(hvp)`.
 *
 * Arguments and results may be pytrees (arrays and plain objects of tensors; pytree.ts).
 * - inAxes: one spec for all arguments, or a list with one spec per argument; a spec is an
 *   axis (negative counts from the end), null (the same for every sample), or a pytree of
 *   specs matching the argument. The default, 0, applies to tensors only: other values (a
 *   number, a string) are passed through unchanged.
 * - outAxes: where the batch axis goes in each result (default 0); results that do not depend
 *   on a batched input are broadcast along it, as in torch.func.
 * - chunkSize: run at most this many samples at once (bounded memory) and concatenate.
 * - randomness: what random functions inside f do — 'error' (default, as torch.func: a draw
 *   inside vmap is refused), 'same' (one draw shared by every sample), 'different' (sample i
 *   draws from foldIn(key, i), so results do not depend on chunkSize).
 */
import { optionsArgument } from '../tensor/arguments.js';
import { ValueError, formatShape } from '../tensor/errors.js';
import { setVmapRandomness, type VmapRandomness } from '../tensor/random-context.js';
import { Tensor } from '../tensor/tensor.js';
import { BatchedTensor, withBatchLevel } from './batching.js';
import { withOutputWorkspace, type OutputWorkspace } from './vmap-workspace.js';
import { concat } from './ops/concat.js';
import { broadcastPrefix, flattenTree } from './pytree.js';
import { moveAxis } from './rules.js';

/** An axis, null, or a pytree of them. */
export type AxisSpec = number | null | readonly AxisSpec[] | { readonly [key: string]: AxisSpec };

/** Options of vmap, as torch.func.vmap's in_dims, out_dims, chunk_size and randomness. */
export interface VmapOptions {
  /** Batch axis of each argument (default 0): one spec for all, or one per argument. */
  inAxes?: AxisSpec;
  /** Where the batch axis goes in the results (default 0). */
  outAxes?: AxisSpec;
  /** Run at most this many samples at once (bounded memory) and concatenate; default all at once. */
  chunkSize?: number;
  /** Random functions inside f: 'error' (default), 'same' or 'different'. */
  randomness?: VmapRandomness;
  /**
   * Reuse memory for the large results across calls (a PerSampleWorkspace): the per-sample
   * outer products of vmap(grad(…)) through Linear layers are written into its arrays (on the
   * wasm backend, WebAssembly memory its SIMD kernel writes directly). Results are then valid
   * only until the next call with the same workspace, which counts as an in-place write to them.
   */
  workspace?: OutputWorkspace;
}

const isAxisLeaf = (s: unknown): s is number | null => s === null || typeof s === 'number';

function fail(message: string): never {
  throw new ValueError(`vmap: ${message}`);
}

function normalizeAxis(axis: number, rank: number, where: string): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) fail(`${where}: axis ${axis} is out of range for rank ${rank}`);
  return axis < 0 ? axis + rank : axis;
}

interface Leaf {
  value: unknown;
  axis: number | null;
  where: string;
}

/** One argument: its leaves with their batch axes, and how to rebuild its pytree from leaves. */
interface Argument {
  leaves: Leaf[];
  unflatten: (leaves: readonly unknown[]) => unknown;
}

/**
 * Each argument's leaves with their batch axes, checked. A non-tensor leaf (a number, a
 * string) is passed through unbatched; an in-axis given for it in a per-argument list is refused.
 */
function batchLeaves(args: readonly unknown[], inAxes: AxisSpec | undefined): Argument[] {
  const perArgument = Array.isArray(inAxes);
  const specs: unknown[] = perArgument ? (inAxes as unknown[]) : args.map(() => (inAxes === undefined ? 0 : inAxes));
  if (specs.length !== args.length) fail(`inAxes has ${specs.length} entries but the function got ${args.length} arguments`);
  return args.map((arg, i) => {
    const axes = broadcastPrefix(specs[i], arg, isAxisLeaf, `inAxes[${i}]`, fail);
    const { leaves, unflatten } = flattenTree(arg);
    const batched = leaves.map((value, k): Leaf => {
      const where = `argument ${i}${leaves.length > 1 || arg !== value ? ` (leaf ${k})` : ''}`;
      const axis = axes[k]!;
      if (!(value instanceof Tensor)) {
        if (axis !== null && perArgument) fail(`${where} is not a tensor (${typeof value}), so its in-axis must be null; got ${axis}`);
        return { value, axis: null, where };
      }
      return { value, axis: axis === null ? null : normalizeAxis(axis, value.rank, `inAxes for ${where} of shape ${formatShape(value.shape)}`), where };
    });
    return { leaves: batched, unflatten };
  });
}

function batchSize(args: Argument[]): number {
  let size: number | null = null;
  let first = '';
  for (const leaf of args.flatMap((a) => a.leaves)) {
    if (leaf.axis === null) continue;
    const n = (leaf.value as Tensor).shape[leaf.axis]!;
    if (size === null) {
      size = n;
      first = `${leaf.where} has size ${n} on axis ${leaf.axis}`;
    } else if (n !== size) {
      fail(`the batched arguments disagree on the batch size: ${first}, ${leaf.where} has size ${n} on axis ${leaf.axis}`);
    }
  }
  if (size === null) fail('no argument is batched: give at least one tensor argument a number in inAxes');
  return size;
}

/** Results leaf by leaf: per-sample tensors back to physical ones with the batch at outAxes. */
function unbatchResults(out: unknown, outAxes: AxisSpec | undefined, level: number, size: number): unknown {
  const { leaves, unflatten } = flattenTree(out);
  const axes = broadcastPrefix(outAxes ?? 0, out, isAxisLeaf, 'outAxes', fail);
  return unflatten(
    leaves.map((leaf, k) => {
      const axis = axes[k]!;
      const batched = leaf instanceof BatchedTensor && leaf.level === level;
      if (!(leaf instanceof Tensor)) {
        if (axis !== null) fail(`result ${k} is not a tensor (${typeof leaf}); return tensors, or give it outAxes null`);
        return leaf;
      }
      if (axis === null) {
        if (batched) fail(`result ${k} differs per sample, so its outAxes cannot be null`);
        return leaf;
      }
      const to = normalizeAxis(axis, leaf.rank + 1, `outAxes for result ${k} of per-sample shape ${formatShape(leaf.shape)}`);
      if (batched) return moveAxis(leaf.value, leaf.bdim, to);
      // The same for every sample: broadcast along the new batch axis.
      const shape = leaf.shape.slice();
      shape.splice(to, 0, 1);
      const target = shape.slice();
      target[to] = size;
      return leaf.reshape(shape).expand(target);
    }),
  );
}

function runBatched(f: (...args: any[]) => unknown, args: readonly Argument[], size: number, options: VmapOptions, offset: number): unknown {
  return withBatchLevel(size, (level) => {
    const wrapped = args.map(({ leaves, unflatten }) =>
      unflatten(leaves.map((leaf) => (leaf.axis === null ? leaf.value : new BatchedTensor(leaf.value as Tensor, leaf.axis, level)))),
    );
    const out = setVmapRandomness({ mode: options.randomness ?? 'error', size, offset, level }, () => f(...wrapped));
    return unbatchResults(out, options.outAxes, level, size);
  });
}

/** Slice `[start, end)` of every batched leaf along its batch axis. */
function chunkOf(args: readonly Argument[], start: number, end: number): Argument[] {
  return args.map(({ leaves, unflatten }) => ({
    unflatten,
    leaves: leaves.map((leaf) => {
      if (leaf.axis === null) return leaf;
      const x = leaf.value as Tensor;
      const specs = x.shape.map((_, d) => (d === leaf.axis ? ([start, end] as const) : null));
      return { ...leaf, value: x.slice(specs) };
    }),
  }));
}

/**
 * vmap(f, options)(...args): f applied to every sample of the batched arguments at once.
 * @example vmap((x) => x.mul(w).sum())(xs)       // one dot product per row of xs
 * @example vmap(grad(loss), { inAxes: [null, 0, 0] })(w, xs, ys)   // per-sample gradients
 */
export function vmap<Args extends unknown[], R>(f: (...args: Args) => R, options: VmapOptions = {}): (...args: Args) => R {
  if (typeof f !== 'function') fail(`expected a function to vectorize; got ${typeof f}`);
  optionsArgument('vmap', options);
  const { chunkSize, randomness } = options;
  if (chunkSize !== undefined && !(Number.isInteger(chunkSize) && chunkSize >= 1)) fail(`chunkSize must be an integer ≥ 1; got ${String(chunkSize)}`);
  if (randomness !== undefined && randomness !== 'error' && randomness !== 'same' && randomness !== 'different') {
    fail(`randomness must be 'error', 'same' or 'different'; got ${String(randomness)}`);
  }
  return (...args: Args): R => {
    const batched = batchLeaves(args, options.inAxes);
    const size = batchSize(batched);
    return withOutputWorkspace(options.workspace, () => run(f, batched, size, options));
  };
}

/** vmap's call: the whole batch at once, or chunk by chunk joined along the results' batch axes. */
function run<R>(f: (...args: any[]) => unknown, args: readonly Argument[], size: number, options: VmapOptions): R {
  const { chunkSize } = options;
  if (chunkSize === undefined || chunkSize >= size) return runBatched(f, args, size, options, 0) as R;
  const chunks: unknown[] = [];
  for (let start = 0; start < size; start += chunkSize) {
    const end = Math.min(size, start + chunkSize);
    chunks.push(runBatched(f, chunkOf(args, start, end), end - start, options, start));
  }
  // Join the chunks leaf by leaf along each result's batch axis.
  const trees = chunks.map((c) => flattenTree(c));
  const axes = broadcastPrefix(options.outAxes ?? 0, chunks[0], isAxisLeaf, 'outAxes', fail);
  const joined = trees[0]!.leaves.map((leaf, k) => {
    const axis = axes[k]!;
    if (!(leaf instanceof Tensor) || axis === null) return leaf;
    return concat(
      trees.map((t) => t.leaves[k] as Tensor),
      axis < 0 ? axis + leaf.rank : axis,
    );
  });
  return trees[0]!.unflatten(joined) as R;
}
