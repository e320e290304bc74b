/**
 * Shared pieces of the JVP and batching rules (op.ts `jvp` / `batch`), so that each op file
 * states only its own math.
 *
 * Batching convention: a rule receives the physical tensors, each with its batch axis (or
 * null when the input is the same for every sample), and returns the physical output with its
 * batch axis. Most rules first move the batch axis to the front (`toFront`) and then call the
 * op itself with axes shifted by one; broadcasting ops also line the per-sample parts up on
 * the right (`alignForBroadcast`).
 */
import type { Tensor } from '../tensor/tensor.js';
import { scalarTensor } from './operands.js';
// NOTE: concat.ts imports this file too; the cycle is safe because neither module uses the
// other's bindings while it is being evaluated (only inside rules, at call time).
import { concat } from './ops/concat.js';
import type { BatchArgs, Batched, JvpArgs } from './op.js';

// ---- forward mode ------------------------------------------------------------------------

/** The sum of the non-null terms, broadcast to the output's shape (a zero tangent if none). */
export function sumTangents(output: Tensor, terms: readonly (Tensor | null)[]): Tensor {
  let total: Tensor | null = null;
  for (const t of terms) if (t) total = total ? total.add(t) : t;
  const result = total ?? scalarTensor(0, output.dtype);
  return result.rank === output.rank && result.shape.every((d, i) => d === output.shape[i]) ? result : result.expand(output.shape);
}

/** The JVP of a linear op: the op applied to the tangent (one input). */
export function linearJvp<A>(op: (t: Tensor, attrs: A) => Tensor): (args: JvpArgs<A>) => Tensor {
  return ({ tangents: [t], attrs }) => op(t!, attrs);
}

/** The JVP of a unary op: tangent × derivative (the derivative from the input and output). */
export function unaryJvp<A>(derivative: (x: Tensor, y: Tensor, attrs: A) => Tensor): (args: JvpArgs<A>) => Tensor {
  return ({ inputs: [x], tangents: [t], output, attrs }) => t!.mul(derivative(x!, output, attrs));
}

// ---- batching ----------------------------------------------------------------------------

/** The per-sample rank of a physical input. */
function logicalRank(x: Tensor, dim: number | null): number {
  return dim === null ? x.rank : x.rank - 1;
}

/** x with its batch axis first (x itself when unbatched or already first). */
export function toFront(x: Tensor, dim: number | null): Tensor {
  return dim === null ? x : moveAxis(x, dim, 0);
}

/** x with axis `from` moved to position `to` (a permuted view; x itself when they agree). */
export function moveAxis(x: Tensor, from: number, to: number): Tensor {
  if (from === to) return x;
  const order = x.shape.map((_, i) => i).filter((i) => i !== from);
  order.splice(to, 0, from);
  return x.permute(order);
}

/** x with its batch axis first; an unbatched x is broadcast to the batch size first. */
export function toFrontExpanded(x: Tensor, dim: number | null, size: number): Tensor {
  return dim === null ? x.expand([size, ...x.shape]) : toFront(x, dim);
}

/**
 * Inputs of a broadcasting op, lined up: each batched input gets its batch axis first and
 * size-1 axes after it, so that its per-sample part aligns on the right with per-sample rank
 * `rank`; unbatched inputs are left alone (broadcasting aligns them on the right already).
 */
export function alignForBroadcast(inputs: readonly Tensor[], dims: readonly (number | null)[], rank?: number): Tensor[] {
  const r = rank ?? Math.max(...inputs.map((x, i) => logicalRank(x, dims[i]!)));
  return inputs.map((x, i) => {
    const d = dims[i]!;
    if (d === null) return x;
    const front = toFront(x, d);
    const missing = r - (front.rank - 1);
    return missing > 0 ? front.reshape([front.shape[0]!, ...new Array<number>(missing).fill(1), ...front.shape.slice(1)]) : front;
  });
}

/** The batching rule of an elementwise op: align, apply the op itself, batch axis 0. */
export function elementwiseBatch<A>(op: (inputs: Tensor[], attrs: A) => Tensor): (args: BatchArgs<A>) => Batched {
  return ({ inputs, dims, attrs }) => {
    // A one-input op keeps the batch axis where it is: no permute needed.
    if (inputs.length === 1) return { value: op([inputs[0]!], attrs), dim: dims[0]! };
    return { value: op(alignForBroadcast(inputs, dims), attrs), dim: 0 };
  };
}

/**
 * The batching rule of a one-input op whose attrs name per-sample axes: move the batch axis
 * first and call the op with attrs shifted past it (`shift` turns per-sample attrs into
 * physical ones for a tensor [B, …]).
 */
export function shiftedBatch<A>(op: (x: Tensor, attrs: A) => Tensor, shift: (attrs: A, size: number) => A): (args: BatchArgs<A>) => Batched {
  return ({ inputs: [x], dims: [d], attrs, size }) => ({ value: op(toFront(x!, d!), shift(attrs, size)), dim: 0 });
}

/** Per-sample axes → the same axes of a tensor with a batch axis in front. */
export const shiftAxes = (axes: readonly number[]): number[] => axes.map((a) => a + 1);

// ---- batch axis merged into another axis (convolution and pooling) -----------------------
//
// NCHW kernels already loop over samples (N) and channel groups, so a batch axis can often
// ride along on one of them: merged into N when only the data is batched, or laid side by
// side as channels (and the group count multiplied by B) when a weight is batched.

/** x with per-sample shape [N, …] → [B·N, …]: the batch axis merged into the leading axis. */
export function mergeBatchIntoLeading(x: Tensor, dim: number): Tensor {
  const front = toFront(x, dim);
  return front.reshape([front.shape[0]! * front.shape[1]!, ...front.shape.slice(2)]);
}

/** y [B·N, …] → [B, N, …] (batch axis 0), the inverse of mergeBatchIntoLeading. */
export function splitLeading(y: Tensor, size: number): Tensor {
  return y.reshape([size, y.shape[0]! / size, ...y.shape.slice(1)]);
}

/**
 * x with per-sample shape [N, C, …] → [N, B·C, …]: sample b's channels at b·C … b·C + C − 1.
 * An unbatched x (dim null) is broadcast to the batch size first.
 */
export function mergeBatchIntoChannels(x: Tensor, dim: number | null, size: number): Tensor {
  const front = toFrontExpanded(x, dim, size); // [B, N, C, …]
  const order = [1, 0, ...front.shape.slice(2).map((_, i) => i + 2)];
  const [n, c] = [front.shape[1]!, front.shape[2]!];
  return front.permute(order).reshape([n, size * c, ...front.shape.slice(3)]);
}

/** y [N, B·C, …] → [N, B, C, …] (batch axis 1), the inverse of mergeBatchIntoChannels. */
export function splitChannels(y: Tensor, size: number): Tensor {
  return y.reshape([y.shape[0]!, size, y.shape[1]! / size, ...y.shape.slice(2)]);
}

// ---- the generic fallback: a loop over the batch -------------------------------------------

/** Sample `index` of a physical input: its batch axis sliced at `index` and dropped. */
function selectSample(x: Tensor, dim: number | null, index: number): Tensor {
  if (dim === null) return x;
  const spec = x.shape.map((_, d) => (d === dim ? ([index, index + 1] as const) : null));
  return x.slice(spec).reshape(x.shape.filter((_, d) => d !== dim));
}

/**
 * A batching rule that runs the op once per sample and stacks the results (batch axis 0).
 * Always right, B times slower than a vectorised rule: for ops where one would be hard to
 * write, and for custom ops without a rule of their own (custom-op.ts). No built-in op uses it
 * (each has a vectorised rule); the transform tests check it against them.
 */
export function loopBatch<A>(op: (inputs: Tensor[], attrs: A) => Tensor): (args: BatchArgs<A>) => Batched {
  return ({ inputs, dims, attrs, size }) => {
    const rows: Tensor[] = [];
    for (let b = 0; b < size; b++) {
      const sample = op(inputs.map((x, i) => selectSample(x, dims[i]!, b)), attrs);
      rows.push(sample.reshape([1, ...sample.shape]));
    }
    return { value: rows.length === 1 ? rows[0]! : concat(rows, 0), dim: 0 };
  };
}
