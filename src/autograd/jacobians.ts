/**
 * Jacobians and Hessians as compositions of the other transforms, as in JAX and torch.func:
 *
 *   jacrev(f)  = vmap of the vjp pullback over the rows of an identity: row r of the stacked
 *                output is the basis cotangent e_r, and its pullback is row r of J.
 *   jacfwd(f)  = vmap of jvp over the basis tangents: tangent e_c gives column c of J.
 *   hessian(f) = jacfwd(jacrev(f)): forward-over-reverse, the cheap order for a scalar f.
 *
 * One vmap covers every output leaf (jacrev) or every input leaf (jacfwd): the basis is one
 * identity of the total size, split leaf by leaf. Layout (torch.func and JAX agree): for an
 * output leaf of shape So and an input leaf of shape Sa the block has shape So + Sa,
 * J[i.., j..] = ∂o[i..]/∂a[j..]. The result is f's output pytree with each output leaf
 * replaced by the argument's pytree of blocks (integer argnums) or by a list over argnums of
 * those (list argnums); hessian's blocks are therefore H[i][j] = ∂²f/∂aᵢ∂aⱼ of shape Sᵢ + Sⱼ.
 */
import { eye, zeros } from '../tensor/creation.js';
import type { DType } from '../tensor/dtype.js';
import { Tensor } from '../tensor/tensor.js';
import { boolArgument, functionArgument, optionsArgument } from '../tensor/arguments.js';
import { flattenTree } from './pytree.js';
import {
  argnumsList,
  checkArgnums,
  differentiableLeaves,
  jvpCore,
  substitute,
  vjpCore,
  type AnyFn,
  type Argnums,
  type AuxOf,
  type GradsOf,
  type OutOf,
  type TensorFn,
  type TensorTree,
  type WithAux,
} from './transforms.js';
import { vmap } from './vmap.js';

// ---- types ---------------------------------------------------------------------------------

/** T with every Tensor leaf replaced by L (an output pytree whose leaves become blocks). */
export type ReplaceLeaves<T, L> = T extends Tensor
  ? L
  : T extends readonly unknown[]
    ? { -readonly [K in keyof T]: ReplaceLeaves<T[K], L> }
    : T extends object
      ? { -readonly [K in keyof T]: ReplaceLeaves<T[K], L> }
      : never;

/** The Jacobian of a function with output O and parameters P, for argnums N. */
export type JacobianOf<O, P extends readonly unknown[], N> = ReplaceLeaves<O, GradsOf<P, N>>;

/** Options of jacfwd and hessian (jax.jacfwd's argnums); `N` is argnums' literal type. */
export interface JacobianOptions<N extends Argnums = Argnums> {
  /** Which positional arguments to differentiate (default 0). */
  argnums?: N;
}

/** Options of jacrev: argnums plus has_aux, as jax.jacrev. */
export interface JacrevOptions<N extends Argnums = Argnums> extends JacobianOptions<N> {
  /** f returns [output, aux]: jacrev returns [jacobian, aux], aux as computed. */
  hasAux?: boolean;
}

// ---- helpers -------------------------------------------------------------------------------

interface Leaf {
  shape: readonly number[];
  dtype: DType;
  /** First row (jacrev: of the stacked outputs; jacfwd: of the stacked inputs). */
  offset: number;
  size: number;
}

function layout(leaves: readonly Tensor[]): { leaves: Leaf[]; total: number } {
  let total = 0;
  const out = leaves.map((t) => {
    const leaf = { shape: t.shape, dtype: t.dtype, offset: total, size: t.size };
    total += t.size;
    return leaf;
  });
  return { leaves: out, total };
}

/**
 * The basis for every leaf at once: leaf k gets [total, ...shape], columns offset..offset+size
 * of the identity, so that row r is e_r restricted to the leaf (zero outside it).
 */
function basis(leaves: readonly Leaf[], total: number): Tensor[] {
  const identities = new Map<DType, Tensor>();
  return leaves.map(({ shape, dtype, offset, size }) => {
    let identity = identities.get(dtype);
    if (!identity) identities.set(dtype, (identity = eye(total, total, { dtype })));
    return identity.slice([null, [offset, offset + size]]).reshape([total, ...shape]);
  });
}

/** Rows offset..offset+size of a stacked [total, ...] tensor. */
function rows(x: Tensor, { offset, size }: Leaf): Tensor {
  return x.slice([[offset, offset + size], ...x.shape.slice(1).map(() => null)]);
}

/** The differentiated arguments' leaves, one list per argnum, and how to rebuild each tree. */
function argumentLeaves(op: string, args: readonly unknown[], argnums: readonly number[]) {
  checkArgnums(op, argnums, args.length);
  return argnums.map((a) => differentiableLeaves(op, args[a], `argument ${a}`));
}

// ---- jacrev --------------------------------------------------------------------------------

/**
 * jacrev(f, { argnums, hasAux })(...args): the Jacobian of f by reverse mode, one vmapped
 * pullback for all rows. f may return a Tensor or a pytree of Tensors.
 * @example jacrev((x) => x.exp())(x) // diag(eˣ), shape [n, n]
 */
export function jacrev<F extends TensorFn<WithAux<TensorTree>>, const N extends Argnums = 0>(
  f: F,
  options: JacrevOptions<N> & { hasAux: true },
): (...args: Parameters<F>) => [JacobianOf<OutOf<F>, Parameters<F>, N>, AuxOf<F>];
export function jacrev<F extends AnyFn<WithAux<TensorTree>>, const N extends Argnums = 0>(
  f: F,
  options: JacrevOptions<N> & { hasAux: true },
): (...args: Parameters<F>) => [JacobianOf<OutOf<F>, Parameters<F>, N>, AuxOf<F>];
export function jacrev<F extends TensorFn<TensorTree>, const N extends Argnums = 0>(
  f: F,
  options?: JacrevOptions<N> & { hasAux?: false },
): (...args: Parameters<F>) => JacobianOf<ReturnType<F>, Parameters<F>, N>;
export function jacrev<F extends AnyFn<TensorTree>, const N extends Argnums = 0>(
  f: F,
  options?: JacrevOptions<N> & { hasAux?: false },
): (...args: Parameters<F>) => JacobianOf<ReturnType<F>, Parameters<F>, N>;
export function jacrev(f: AnyFn<unknown>, options: JacrevOptions = {}): (...args: unknown[]) => unknown {
  const op = 'jacrev';
  functionArgument(op, 'the function to differentiate', f);
  optionsArgument(op, options);
  const argnums = options.argnums === undefined ? 0 : options.argnums;
  const list = argnumsList(op, argnums);
  const hasAux = boolArgument(op, 'hasAux', options.hasAux, false);
  return (...args) => {
    const inputs = argumentLeaves(op, args, list);
    const partial = (...moving: unknown[]) => (f as (...a: unknown[]) => unknown)(...substitute(args, list, moving));
    const { out, pullback, aux } = vjpCore(op, partial, list.map((a) => args[a]), hasAux);
    const { leaves: outs, unflatten } = flattenTree(out);
    const { leaves: outLeaves, total } = layout(outs as Tensor[]);
    // Per argnum, the argument's tree with each leaf [total, ...Sa]: row r = e_rᵀ J.
    const stacked =
      total === 0
        ? null
        : (vmap((cotangent: unknown) => pullback(cotangent))(unflatten(basis(outLeaves, total))) as unknown[]);
    const jacobian = unflatten(
      outLeaves.map((o) => {
        const perArgument = inputs.map(({ leaves, unflatten: rebuild }, k) => {
          const grads = stacked ? (flattenTree(stacked[k]).leaves as Tensor[]) : null;
          return rebuild(leaves.map((a, j) => (grads ? rows(grads[j]!, o).reshape([...o.shape, ...a.shape]) : zeros([...o.shape, ...a.shape], { dtype: a.dtype }))));
        });
        return typeof argnums === 'number' ? perArgument[0] : perArgument;
      }),
    );
    return hasAux ? [jacobian, aux] : jacobian;
  };
}

// ---- jacfwd --------------------------------------------------------------------------------

/**
 * jacfwd(f, { argnums })(...args): the same Jacobian as jacrev, by forward mode: one vmapped
 * jvp for all columns (cheaper than jacrev when there are fewer inputs than outputs).
 * @example jacfwd((x) => x.exp())(x) // diag(eˣ), shape [n, n]
 */
export function jacfwd<F extends TensorFn<TensorTree>, const N extends Argnums = 0>(
  f: F,
  options?: JacobianOptions<N>,
): (...args: Parameters<F>) => JacobianOf<ReturnType<F>, Parameters<F>, N>;
export function jacfwd<F extends AnyFn<TensorTree>, const N extends Argnums = 0>(
  f: F,
  options?: JacobianOptions<N>,
): (...args: Parameters<F>) => JacobianOf<ReturnType<F>, Parameters<F>, N>;
export function jacfwd(f: AnyFn<unknown>, options: JacobianOptions = {}): (...args: unknown[]) => unknown {
  return jacfwdOf('jacfwd', f, options);
}

function jacfwdOf(op: string, f: AnyFn<unknown>, options: JacobianOptions): (...args: unknown[]) => unknown {
  functionArgument(op, 'the function to differentiate', f);
  optionsArgument(op, options);
  const argnums = options.argnums === undefined ? 0 : options.argnums;
  const list = argnumsList(op, argnums);
  return (...args) => {
    const inputs = argumentLeaves(op, args, list);
    const { leaves: inLeaves, total } = layout(inputs.flatMap((p) => p.leaves));
    const primals = list.map((a) => args[a]);
    const partial = (...moving: unknown[]) => (f as (...a: unknown[]) => unknown)(...substitute(args, list, moving));
    // Output leaves [total, ...So]: row c = J e_c. With no input elements, f's output gives the shapes.
    let out: unknown;
    if (total === 0) {
      out = partial(...primals);
    } else {
      const directions = basis(inLeaves, total);
      let next = 0;
      const tangents = inputs.map(({ leaves, unflatten }) => unflatten(leaves.map(() => directions[next++])));
      out = vmap((...t: unknown[]) => jvpCore(op, partial, primals, t)[1])(...tangents);
    }
    const { leaves: outs, unflatten } = flattenTree(out);
    const jacobian = unflatten(
      (outs as Tensor[]).map((stacked) => {
        const So = total === 0 ? stacked.shape : stacked.shape.slice(1);
        let next = 0;
        const perArgument = inputs.map(({ leaves, unflatten: rebuild }) =>
          rebuild(
            leaves.map((a) => {
              const leaf = inLeaves[next++]!;
              if (total === 0) return zeros([...So, ...a.shape], { dtype: a.dtype });
              // [size, ...So] → [...So, size] → So + Sa
              const moved = rows(stacked, leaf).permute([...So.map((_, d) => d + 1), 0]);
              return moved.reshape([...So, ...a.shape]);
            }),
          ),
        );
        return typeof argnums === 'number' ? perArgument[0] : perArgument;
      }),
    );
    return jacobian;
  };
}

// ---- hessian -------------------------------------------------------------------------------

/**
 * hessian(f, { argnums })(...args) = jacfwd(jacrev(f, { argnums }), { argnums }): for a scalar
 * f, one block of shape Sa + Sa (integer argnums) or nested lists H[i][j] (list argnums).
 * @example hessian((x) => x.pow(3).sum())(x) // diag(6x)
 */
export function hessian<F extends TensorFn<Tensor>, const N extends Argnums = 0>(
  f: F,
  options?: JacobianOptions<N>,
): (...args: Parameters<F>) => ReplaceLeaves<GradsOf<Parameters<F>, N>, GradsOf<Parameters<F>, N>>;
export function hessian<F extends AnyFn<Tensor>, const N extends Argnums = 0>(
  f: F,
  options?: JacobianOptions<N>,
): (...args: Parameters<F>) => ReplaceLeaves<GradsOf<Parameters<F>, N>, GradsOf<Parameters<F>, N>>;
export function hessian(f: AnyFn<unknown>, options: JacobianOptions = {}): (...args: unknown[]) => unknown {
  functionArgument('hessian', 'the function to differentiate', f);
  optionsArgument('hessian', options);
  const argnums = options.argnums === undefined ? 0 : options.argnums;
  argnumsList('hessian', argnums);
  const gradient = jacrev(f as AnyFn<TensorTree>, { argnums }) as AnyFn<TensorTree>;
  return jacfwdOf('hessian', gradient, { argnums });
}
