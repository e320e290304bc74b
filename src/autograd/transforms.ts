/**
 * Function transforms in the style of JAX: grad, valueAndGrad, vjp, jvp, hvp (jacobians.ts
 * builds jacrev, jacfwd and hessian on vjp, jvp and vmap). They compose (grad of grad of grad
 * works) because backward rules are differentiable ops.
 *
 * How nesting stays correct: each transform differentiates with respect to its own fresh
 * node — `identity(x)` of every argument leaf — so an inner transform never confuses its
 * perturbation with an outer one's, and the node keeps what outer transforms attached to x
 * (its graph, its forward-mode tangents). The transform records its backward pass
 * (createGraph) exactly when its result can depend on something outside it that requires
 * grad: an argument being differentiated by an outer transform, or a tensor `f` closes over
 * (a parameter, an outer transform's variable). Then the result is differentiable with
 * respect to those, as in JAX; otherwise the backward runs without recording. `{ createGraph }`
 * overrides the choice. Under an active `jvp` the backward is recorded anyway and cut after,
 * so that its results keep their tangents (forward-over-reverse).
 *
 * Pytrees (pytree.ts): arguments and results may be tensors or arrays and plain objects of
 * them, nested. A gradient comes back with its argument's structure; a cotangent or tangent
 * has the structure of the value it goes with.
 *
 * Types: each transform keeps `Parameters<F>` and maps the return type, so calling grad(f)
 * with something f does not take, or misspelling a method inside an unannotated f, is a
 * compile error. Unannotated parameters are Tensors (the first overload of each transform);
 * annotate them to take pytrees or non-tensor arguments.
 */
import { GradError, ShapeError, ValueError, describeValue, formatShape } from '../tensor/errors.js';
import { Tensor } from '../tensor/tensor.js';
import { zerosLike } from '../tensor/creation.js';
import { gradients } from './engine.js';
import { isGradEnabled, withGradMode } from './mode.js';
import { floatOperand, scalarTensor, tensorArgument, tensorListArgument } from './operands.js';
import { identity } from './ops/identity.js';
import { BatchedTensor } from './batching.js';
import { detachKeepingTangents, withTangentLevel } from './forward-mode.js';
import { flattenTree, isContainer, mapTree, type PyTree } from './pytree.js';
import { boolArgument, functionArgument, intArgument, optionsArgument } from '../tensor/arguments.js';
import { assertFloat, assertSameDType } from '../tensor/dtype.js';

// ---- types ---------------------------------------------------------------------------------

/** A pytree of tensors: a Tensor, or arrays and plain objects of them, nested. */
export type TensorTree = PyTree<Tensor>;

/** Which positional arguments to differentiate: one position, or a list of them. */
export type Argnums = number | readonly number[];

/** The gradient (tangent, cotangent) of a value of type T: T's structure with Tensor leaves. */
export type GradOf<T> = T extends Tensor
  ? Tensor
  : T extends readonly unknown[]
    ? { -readonly [K in keyof T]: GradOf<T[K]> }
    : T extends object
      ? { -readonly [K in keyof T]: GradOf<T[K]> }
      : never;

/** The type of parameter I of the parameter list P (never for a non-number I). */
export type ArgAt<P extends readonly unknown[], I> = I extends number ? P[I] : never;

/** What grad(f, { argnums: N }) returns for parameters P: one argument's structure, or a tuple over argnums. */
export type GradsOf<P extends readonly unknown[], N> = N extends number
  ? GradOf<ArgAt<P, N>>
  : N extends readonly number[]
    ? { -readonly [K in keyof N]: GradOf<ArgAt<P, N[K]>> }
    : never;

/** A function whose unannotated parameters are Tensors. */
export type TensorFn<R> = (...args: Tensor[]) => R;
/** A function with annotated parameters of any types. */
export type AnyFn<R> = (...args: never[]) => R;
/** What a function returns with hasAux: [output, aux]. */
export type WithAux<O = unknown> = readonly [O, unknown];
/** The aux of a hasAux function F (returned as computed). */
export type AuxOf<F extends AnyFn<unknown>> = ReturnType<F> extends readonly [unknown, infer A] ? A : never;
/** The output of a hasAux function F. */
export type OutOf<F extends AnyFn<unknown>> = ReturnType<F> extends readonly [infer O, unknown] ? O : never;

/**
 * Options of grad and valueAndGrad other than hasAux (which the overloads type separately);
 * `N` is the literal type of argnums, so the result type knows its structure.
 */
export interface TransformOptions<N extends Argnums = Argnums> {
  /** Which positional arguments to differentiate (default 0). */
  argnums?: N;
  /** Force a differentiable result (default: only when an argument already requires grad). */
  createGraph?: boolean;
}

/** Options of grad and valueAndGrad, as jax.grad's argnums and has_aux. */
export interface GradOptions<N extends Argnums = Argnums> extends TransformOptions<N> {
  /** f returns [output, aux]: aux is returned beside the result, as computed, not differentiated. */
  hasAux?: boolean;
}

/** Options O with `hasAux: true`: selects the overloads whose f returns [output, aux]. */
export type WithAuxTrue<O> = O & {
  /** f returns [output, aux]. */
  hasAux: true;
};
/** Options O with hasAux absent or false: selects the overloads whose f returns the output alone. */
export type WithAuxFalse<O> = O & {
  /** f returns the output alone (the default). */
  hasAux?: false;
};

// ---- tracing the arguments -----------------------------------------------------------------

/**
 * The tensor leaves of an argument that is to be differentiated, checked: a Tensor or a
 * non-empty pytree of float Tensors (an empty one is refused: differentiating with respect to
 * nothing is always a mistake).
 */
export function differentiableLeaves(
  op: string,
  v: unknown,
  where: string,
): {
  /** The float tensor leaves of v, in pytree order. */
  leaves: Tensor[];
  /** Rebuild v's structure from new leaves (the gradients). */
  unflatten: (leaves: readonly unknown[]) => unknown;
} {
  if (v instanceof Tensor) {
    assertFloat(op, v.dtype);
    return { leaves: [v], unflatten: (l) => l[0] };
  }
  if (!isContainer(v)) {
    throw new GradError(`${op}: ${where} must be a Tensor to be differentiated; got ${v !== null && typeof v === 'object' ? describeValue(v) : typeof v}`);
  }
  const { leaves, unflatten } = flattenTree(v);
  if (leaves.length === 0) throw new GradError(`${op}: ${where} is an empty pytree (${describeValue(v)}): there is nothing to differentiate`);
  leaves.forEach((leaf, k) => {
    if (!(leaf instanceof Tensor)) {
      throw new GradError(`${op}: ${where} must be a Tensor or a pytree (arrays, plain objects) of Tensors to be differentiated; leaf ${k} is ${describeValue(leaf)}`);
    }
    assertFloat(op, leaf.dtype);
  });
  return { leaves: leaves as Tensor[], unflatten };
}

/**
 * A fresh node standing for leaf x inside one transform. identity keeps x's graph (when an
 * outer transform differentiates x) and its tangents (when an outer jvp carries one).
 */
function traceInput(x: Tensor): Tensor {
  const node = identity(x);
  return x.requiresGrad ? node : node.requireGrad();
}

/** A leaf cut from the graph; its forward-mode tangents are kept (an outer jvp needs them). */
function cut(t: Tensor): Tensor {
  return t.requiresGrad ? detachKeepingTangents(t) : t;
}

function cutTree<T>(tree: T): T {
  return mapTree(tree, (leaf) => (leaf instanceof Tensor ? cut(leaf) : leaf)) as T;
}

function scalarOutput(op: string, y: unknown): Tensor {
  if (!(y instanceof Tensor) || y.size !== 1) {
    const got = y instanceof Tensor ? `shape ${formatShape(y.shape)}` : typeof y;
    throw new GradError(`${op}: the function must return a scalar tensor (one element); got ${got}`);
  }
  return y;
}

/** The leaves of a result that must be tensors (vjp's and jvp's outputs). */
function tensorLeaves(op: string, y: unknown): { leaves: Tensor[]; unflatten: (leaves: readonly unknown[]) => unknown } {
  const { leaves, unflatten } = flattenTree(y);
  const bad = leaves.findIndex((l) => !(l instanceof Tensor));
  if (bad >= 0 || leaves.length === 0) {
    const got = y instanceof Tensor || !isContainer(y) ? describeValue(y) : leaves.length === 0 ? 'an empty pytree' : `a pytree whose leaf ${bad} is ${describeValue(leaves[bad])}`;
    throw new GradError(`${op}: the function must return a Tensor or a pytree of Tensors; got ${got}`);
  }
  return { leaves: leaves as Tensor[], unflatten };
}

/** [output, aux] of a hasAux function, checked. */
function splitAux(op: string, out: unknown): [unknown, unknown] {
  if (!Array.isArray(out) || out.length !== 2) {
    throw new GradError(`${op}: with hasAux the function must return [output, aux]; got ${Array.isArray(out) ? `an array of ${out.length}` : describeValue(out)}`);
  }
  return [out[0], out[1]];
}

/** A structure signature for error messages and equality checks: '*' for a tensor. */
function treeDef(v: unknown): string {
  if (v instanceof Tensor) return '*';
  if (Array.isArray(v)) return `[${v.map(treeDef).join(', ')}]`;
  if (isContainer(v)) return `{${Object.entries(v).map(([k, x]) => `${k}: ${treeDef(x)}`).join(', ')}}`;
  return describeValue(v);
}

/**
 * Whether `y` depends on a tensor that requires grad other than this transform's own inputs:
 * then the gradient must be recorded so that whoever differentiates from outside sees it.
 */
function dependsOnOuterTensors(y: unknown, inputs: readonly Tensor[]): boolean {
  if (!(y instanceof Tensor) || !y.requiresGrad || !isGradEnabled()) return false;
  const own = new Set(inputs);
  const seen = new Set<Tensor>();
  const stack = [y];
  while (stack.length > 0) {
    const t = stack.pop()!;
    if (seen.has(t)) continue;
    seen.add(t);
    // Own inputs that are fresh leaves lead nowhere; own inputs that are identity(x) of an
    // outer variable lead to it, like any other node.
    if (!t.node) {
      if (t.requiresGrad && !own.has(t)) return true;
      // A per-sample (vmap) leaf whose physical value is differentiated from outside vmap.
      if (physicalRequiresGrad(t)) return true;
      continue;
    }
    for (const input of t.node.inputs) if (input.requiresGrad) stack.push(input);
  }
  return false;
}

/** Whether a BatchedTensor's physical value (at any vmap level below) requires grad. */
function physicalRequiresGrad(t: Tensor): boolean {
  let x: Tensor = t;
  while (x instanceof BatchedTensor) {
    x = x.value;
    if (x.requiresGrad) return true;
  }
  return false;
}

/** The argnums option: an integer ≥ 0 or a list of them (checked when the transform is made, not when it is called). */
export function argnumsList(op: string, argnums: unknown): number[] {
  if (typeof argnums === 'number') return [intArgument(op, 'argnums', argnums)];
  if (!Array.isArray(argnums)) throw new ValueError(`${op}: expected argnums to be an integer ≥ 0 or a list of them; got ${describeValue(argnums)}`);
  const list = argnums.map((a) => intArgument(op, 'argnums', a));
  const repeated = list.find((a, i) => list.indexOf(a) !== i);
  if (repeated !== undefined) throw new ValueError(`${op}: argnums lists argument ${repeated} twice`);
  return list;
}

/** Argnums against the number of arguments of a call. */
export function checkArgnums(op: string, argnums: readonly number[], count: number): void {
  for (const a of argnums) {
    if (a >= count) throw new GradError(`${op}: argnums ${a} is out of range for ${count} arguments`);
  }
}

/** `args` with the entries at `argnums` replaced by `moving` (jacobians close over the rest). */
export function substitute(args: readonly unknown[], argnums: readonly number[], moving: readonly unknown[]): unknown[] {
  const out = args.slice();
  argnums.forEach((a, k) => (out[a] = moving[k]));
  return out;
}

interface Evaluated {
  out: unknown;
  /** Every traced leaf, argument by argument. */
  inputs: Tensor[];
  /** Gradients of `inputs` (same order) → one tree per argnum, each with its argument's structure. */
  structure: (grads: readonly Tensor[]) => unknown[];
}

/** Call f with fresh nodes for the leaves of the arguments at `argnums`. */
function evaluate(op: string, f: (...args: never[]) => unknown, args: readonly unknown[], argnums: readonly number[]): Evaluated {
  checkArgnums(op, argnums, args.length);
  const traced = args.slice();
  const inputs: Tensor[] = [];
  const trees: { count: number; unflatten: (leaves: readonly unknown[]) => unknown }[] = [];
  withGradMode(true, () => {
    for (const a of argnums) {
      const { leaves, unflatten } = differentiableLeaves(op, args[a], `argument ${a}`);
      const nodes = leaves.map(traceInput);
      traced[a] = unflatten(nodes);
      inputs.push(...nodes);
      trees.push({ count: nodes.length, unflatten });
    }
  });
  const out = withGradMode(true, () => (f as (...args: unknown[]) => unknown)(...traced));
  const structure = (grads: readonly Tensor[]) => {
    let k = 0;
    return trees.map(({ count, unflatten }) => unflatten(grads.slice(k, (k += count))));
  };
  return { out, inputs, structure };
}

/**
 * Σ ⟨seed, output⟩ differentiated with respect to `inputs` (seeds default to 1 for scalars).
 * Under an active jvp the gradients carry tangents whether or not the backward is recorded:
 * forward mode follows every op, recorded or not, and `gradients` detaches keeping tangents.
 */
function pull(outputs: readonly Tensor[], seeds: readonly Tensor[] | undefined, inputs: readonly Tensor[], createGraph: boolean, retainGraph: boolean): Tensor[] {
  const live = outputs.map((_, i) => i).filter((i) => outputs[i]!.requiresGrad);
  if (live.length === 0) return inputs.map((x) => zerosLike(x));
  return gradients(
    live.map((i) => outputs[i]!),
    inputs,
    {
      ...(seeds ? { gradOutputs: live.map((i) => seeds[i]!) } : {}),
      createGraph,
      // A recorded backward keeps the forward graph: an outer transform goes through it again.
      retainGraph: retainGraph || createGraph,
      allowUnused: true,
    },
  );
}

/** Aux leaves: kept as computed when they depend on an outer transform's variables, cut otherwise. */
function auxResult(aux: unknown, inputs: readonly Tensor[]): unknown {
  return mapTree(aux, (leaf) => (leaf instanceof Tensor && !dependsOnOuterTensors(leaf, inputs) ? cut(leaf) : leaf));
}

// ---- grad and valueAndGrad -----------------------------------------------------------------

type ValueAndGradImpl = (...args: unknown[]) => [unknown, unknown];

function valueAndGradOf(op: string, f: (...args: never[]) => unknown, options: GradOptions): ValueAndGradImpl {
  functionArgument(op, 'the function to differentiate', f);
  optionsArgument(op, options);
  const argnums = options.argnums === undefined ? 0 : options.argnums;
  const list = argnumsList(op, argnums);
  boolArgument(op, 'createGraph', options.createGraph, false);
  const hasAux = boolArgument(op, 'hasAux', options.hasAux, false);
  return (...args) => {
    const { out, inputs, structure } = evaluate(op, f, args, list);
    const [y, aux] = hasAux ? splitAux(op, out) : [out, undefined];
    const loss = scalarOutput(op, y);
    const createGraph = options.createGraph ?? dependsOnOuterTensors(loss, inputs);
    const grads = structure(pull([loss], undefined, inputs, createGraph, false));
    const value = createGraph ? loss : cut(loss);
    const g = typeof argnums === 'number' ? grads[0] : grads;
    return [hasAux ? [value, auxResult(aux, inputs)] : value, g];
  };
}

/**
 * valueAndGrad(f)(...args) → [f(...args), ∂f/∂args[argnums]]; with hasAux (f returns
 * [loss, aux]) → [[loss, aux], gradients], as jax.value_and_grad.
 * @example const [loss, g] = valueAndGrad((w) => w.mul(w).sum())(w0);
 */
export function valueAndGrad<F extends TensorFn<WithAux<Tensor>>, const N extends Argnums = 0>(
  f: F,
  options: WithAuxTrue<TransformOptions<N>>,
): (...args: Parameters<F>) => [[Tensor, AuxOf<F>], GradsOf<Parameters<F>, N>];
export function valueAndGrad<F extends AnyFn<WithAux<Tensor>>, const N extends Argnums = 0>(
  f: F,
  options: WithAuxTrue<TransformOptions<N>>,
): (...args: Parameters<F>) => [[Tensor, AuxOf<F>], GradsOf<Parameters<F>, N>];
export function valueAndGrad<F extends TensorFn<Tensor>, const N extends Argnums = 0>(
  f: F,
  options?: WithAuxFalse<TransformOptions<N>>,
): (...args: Parameters<F>) => [Tensor, GradsOf<Parameters<F>, N>];
export function valueAndGrad<F extends AnyFn<Tensor>, const N extends Argnums = 0>(
  f: F,
  options?: WithAuxFalse<TransformOptions<N>>,
): (...args: Parameters<F>) => [Tensor, GradsOf<Parameters<F>, N>];
export function valueAndGrad<F extends AnyFn<Tensor | WithAux<Tensor>>, const N extends Argnums = 0>(
  f: F,
  options?: GradOptions<N>,
): (...args: Parameters<F>) => [Tensor | [Tensor, AuxOf<F>], GradsOf<Parameters<F>, N>];
export function valueAndGrad(f: AnyFn<unknown>, options: GradOptions = {}): ValueAndGradImpl {
  return valueAndGradOf('valueAndGrad', f, options);
}

/**
 * grad(f)(...args) → ∂f/∂args[argnums]; f must return a scalar tensor. Each gradient has its
 * argument's pytree structure; a list argnums gives a tuple of them. With hasAux (f returns
 * [loss, aux]) → [gradients, aux].
 * @example grad(grad(grad((x) => x.pow(3).sum())))(tensor(2)) // 6
 * @example grad((p: { w: Tensor; b: Tensor }, x: Tensor) => x.matmul(p.w).add(p.b).sum())(p, x) // { w, b }
 */
export function grad<F extends TensorFn<WithAux<Tensor>>, const N extends Argnums = 0>(
  f: F,
  options: WithAuxTrue<TransformOptions<N>>,
): (...args: Parameters<F>) => [GradsOf<Parameters<F>, N>, AuxOf<F>];
export function grad<F extends AnyFn<WithAux<Tensor>>, const N extends Argnums = 0>(
  f: F,
  options: WithAuxTrue<TransformOptions<N>>,
): (...args: Parameters<F>) => [GradsOf<Parameters<F>, N>, AuxOf<F>];
export function grad<F extends TensorFn<Tensor>, const N extends Argnums = 0>(
  f: F,
  options?: WithAuxFalse<TransformOptions<N>>,
): (...args: Parameters<F>) => GradsOf<Parameters<F>, N>;
export function grad<F extends AnyFn<Tensor>, const N extends Argnums = 0>(
  f: F,
  options?: WithAuxFalse<TransformOptions<N>>,
): (...args: Parameters<F>) => GradsOf<Parameters<F>, N>;
export function grad<F extends AnyFn<Tensor | WithAux<Tensor>>, const N extends Argnums = 0>(
  f: F,
  options?: GradOptions<N>,
): (...args: Parameters<F>) => GradsOf<Parameters<F>, N> | [GradsOf<Parameters<F>, N>, AuxOf<F>];
export function grad(f: AnyFn<unknown>, options: GradOptions = {}): (...args: unknown[]) => unknown {
  const vg = valueAndGradOf('grad', f, options);
  const hasAux = options.hasAux === true;
  return (...args) => {
    const [value, g] = vg(...args);
    return hasAux ? [g, (value as [Tensor, unknown])[1]] : g;
  };
}

// ---- vjp -----------------------------------------------------------------------------------

/** A cotangent (or tangent) checked against the value it goes with: same structure, same shapes. */
function matchingLeaves(op: string, given: unknown, like: unknown, what: string, whose: string): Tensor[] {
  if (like instanceof Tensor) {
    tensorArgument(op, given, `the ${what} to be a Tensor`);
    const g = given as Tensor;
    if (formatShape(g.shape) !== formatShape(like.shape)) {
      throw new ShapeError(`${op}: the ${what} must have ${whose} shape ${formatShape(like.shape)}; got ${formatShape(g.shape)}`);
    }
    return [g];
  }
  if (treeDef(given) !== treeDef(like)) {
    throw new ValueError(`${op}: the ${what} must have ${whose} structure ${treeDef(like)}; got ${treeDef(given)}`);
  }
  const expected = flattenTree(like).leaves as Tensor[];
  const leaves = flattenTree(given).leaves as Tensor[];
  leaves.forEach((g, k) => {
    if (formatShape(g.shape) !== formatShape(expected[k]!.shape)) {
      throw new ShapeError(`${op}: leaf ${k} of the ${what} must have ${whose} shape ${formatShape(expected[k]!.shape)}; got ${formatShape(g.shape)}`);
    }
  });
  return leaves;
}

/** The pieces of vjp, untyped (jacrev builds on it). */
export function vjpCore(
  op: string,
  f: (...args: never[]) => unknown,
  primals: readonly unknown[],
  hasAux: boolean,
): {
  /** f's output (cut from the graph unless it depends on an outer transform's variables). */
  out: unknown;
  /** Cotangent with the output's structure → one gradient per primal, each with its primal's structure. */
  pullback: (cotangent: unknown) => unknown[];
  /** The aux value with hasAux, else undefined. */
  aux: unknown;
} {
  functionArgument(op, 'the function to differentiate', f);
  const { out: result, inputs, structure } = evaluate(op, f, primals, primals.map((_, i) => i));
  const [y, aux] = hasAux ? splitAux(op, result) : [result, undefined];
  const { leaves: outs } = tensorLeaves(op, y);
  const createGraph = outs.some((o) => dependsOnOuterTensors(o, inputs));
  const pullback = (cotangent: unknown): unknown[] => {
    const seeds = matchingLeaves(op, cotangent, y, 'cotangent', "the output's");
    return structure(pull(outs, seeds, inputs, createGraph, true));
  };
  return { out: createGraph ? y : cutTree(y), pullback, aux: hasAux ? auxResult(aux, inputs) : undefined };
}

/** vjp's pullback: a cotangent with the output's structure → one gradient per primal, each with its primal's structure. */
export type Pullback<F extends AnyFn<unknown>, O> = (cotangent: GradOf<O>) => GradOf<Parameters<F>>;

/** The options of vjp, given between f and the primals. */
export interface VjpOptions {
  /** f returns [output, aux]: vjp returns [output, pullback, aux]. */
  hasAux?: boolean;
}

function isVjpOptions(v: unknown): v is VjpOptions {
  if (!isContainer(v) || Array.isArray(v)) return false;
  const keys = Object.keys(v);
  return keys.length > 0 && keys.every((k) => k === 'hasAux') && !((v as Record<string, unknown>).hasAux instanceof Tensor);
}

/**
 * vjp(f, ...primals) → [f(primals), (cotangent) => cotangentᵀ·∂f/∂primals (one per primal)].
 * Primals, the output and the cotangent may be pytrees. The pullback may be called several
 * times. vjp(f, { hasAux: true }, ...primals), for f returning [output, aux], → [output,
 * pullback, aux] (JAX and torch.func take has_aux as a keyword; here it goes before the primals).
 * @example const [y, pullback] = vjp((x) => x.exp(), x); pullback(ones([3])) // [eˣ]
 */
export function vjp<F extends TensorFn<WithAux<TensorTree>>>(f: F, options: { hasAux: true }, ...primals: Parameters<F>): [OutOf<F>, Pullback<F, OutOf<F>>, AuxOf<F>];
export function vjp<F extends AnyFn<WithAux<TensorTree>>>(f: F, options: { hasAux: true }, ...primals: Parameters<F>): [OutOf<F>, Pullback<F, OutOf<F>>, AuxOf<F>];
export function vjp<F extends TensorFn<TensorTree>>(f: F, ...primals: Parameters<F>): [ReturnType<F>, Pullback<F, ReturnType<F>>];
export function vjp<F extends AnyFn<TensorTree>>(f: F, ...primals: Parameters<F>): [ReturnType<F>, Pullback<F, ReturnType<F>>];
export function vjp(f: AnyFn<unknown>, ...rest: unknown[]): unknown[] {
  const withOptions = isVjpOptions(rest[0]);
  const hasAux = withOptions ? boolArgument('vjp', 'hasAux', (rest[0] as VjpOptions).hasAux, false) : false;
  const { out, pullback, aux } = vjpCore('vjp', f, withOptions ? rest.slice(1) : rest, hasAux);
  return hasAux ? [out, pullback, aux] : [out, pullback];
}

// ---- jvp and linearize ---------------------------------------------------------------------

/** The arguments of jvp, checked: one tangent per primal, of the primal's structure and shapes. */
function checkJvpArguments(op: string, f: unknown, primals: unknown, tangents: unknown): { primal: Tensor[][]; tangent: Tensor[][]; unflatten: ((leaves: readonly unknown[]) => unknown)[] } {
  functionArgument(op, 'the function to differentiate', f as (...args: unknown[]) => unknown);
  if (!Array.isArray(primals)) throw new ValueError(`${op}: expected the primals to be a list (one Tensor or pytree per argument of f); got ${primals instanceof Tensor ? 'a single Tensor' : describeValue(primals)}`);
  if (!Array.isArray(tangents)) throw new ValueError(`${op}: expected the tangents to be a list (one per primal); got ${tangents instanceof Tensor ? 'a single Tensor' : describeValue(tangents)}`);
  const parts = primals.map((p, i) => differentiableLeaves(op, p, `primal ${i}`));
  if (primals.length !== tangents.length) throw new GradError(`${op}: got ${primals.length} primals but ${tangents.length} tangents`);
  const tangent = primals.map((p, i) => {
    const t: unknown = tangents[i];
    if (p instanceof Tensor) {
      if (!(t instanceof Tensor) || formatShape(t.shape) !== formatShape(p.shape)) {
        throw new GradError(`${op}: tangent ${i} must have the primal's shape ${formatShape(p.shape)}; got ${t instanceof Tensor ? formatShape(t.shape) : typeof t}`);
      }
      return [t];
    }
    if (treeDef(t) !== treeDef(p)) throw new GradError(`${op}: tangent ${i} must have the primal's structure ${treeDef(p)}; got ${treeDef(t)}`);
    const leaves = flattenTree(t).leaves as Tensor[];
    leaves.forEach((leaf, k) => {
      const shape = parts[i]!.leaves[k]!.shape;
      if (formatShape(leaf.shape) !== formatShape(shape)) throw new GradError(`${op}: tangent ${i} (leaf ${k}) must have the primal's shape ${formatShape(shape)}; got ${formatShape(leaf.shape)}`);
    });
    return leaves;
  });
  return { primal: parts.map((p) => p.leaves), tangent, unflatten: parts.map((p) => p.unflatten) };
}

/** jvp, untyped (jacfwd builds on it). */
export function jvpCore(op: string, f: (...args: never[]) => unknown, primals: readonly unknown[], tangents: readonly unknown[]): [unknown, unknown] {
  const { primal, tangent, unflatten } = checkJvpArguments(op, f, primals, tangents);
  return withTangentLevel((level) => {
    // Fresh nodes: identity keeps what an outer transform attached to each primal (its graph,
    // an outer tangent) while giving this level a tensor of its own.
    const inputs: Tensor[] = [];
    const args = primal.map((leaves, i) =>
      unflatten[i]!(
        leaves.map((p, k) => {
          const x = identity(p);
          level.set(x, tangent[i]![k]!);
          inputs.push(x);
          return x;
        }),
      ),
    );
    const y = (f as (...args: unknown[]) => unknown)(...args);
    const { leaves: outs, unflatten: rebuild } = tensorLeaves(op, y);
    const values: Tensor[] = [];
    const tangentsOut: Tensor[] = [];
    for (const o of outs) {
      const t = level.get(o) ?? zerosLike(o);
      const keep = dependsOnOuterTensors(o, inputs) || dependsOnOuterTensors(t, inputs);
      values.push(keep ? o : cut(o));
      tangentsOut.push(keep ? t : cut(t));
    }
    return [rebuild(values), rebuild(tangentsOut)];
  });
}

/**
 * jvp(f, primals, tangents) → [f(primals), J·tangents], in true forward mode: one evaluation
 * of f that carries each value's tangent beside it (forward-mode.ts; every primitive's `jvp`
 * rule). `primals` has one entry per argument of f (a Tensor or a pytree), `tangents` one of
 * the same structure per primal; the output and its tangent may be pytrees. As with grad, the
 * results are graph-free unless they depend on something an outer transform differentiates
 * (then forward-over-reverse and reverse-over-forward just work).
 * @example jvp((x) => x.sin(), [x], [ones([3])]) // [sin x, cos x]
 */
export function jvp<F extends TensorFn<TensorTree>>(f: F, primals: Readonly<Parameters<F>>, tangents: Readonly<GradOf<Parameters<F>>>): [ReturnType<F>, GradOf<ReturnType<F>>];
export function jvp<F extends AnyFn<TensorTree>>(f: F, primals: Readonly<Parameters<F>>, tangents: Readonly<GradOf<Parameters<F>>>): [ReturnType<F>, GradOf<ReturnType<F>>];
export function jvp(f: AnyFn<unknown>, primals: readonly unknown[], tangents: readonly unknown[]): [unknown, unknown] {
  return jvpCore('jvp', f, primals, tangents);
}

/**
 * linearize(f, ...primals) → [f(primals), (...tangents) ↦ J·tangents]. NOTE: each call of the
 * returned function evaluates f again in forward mode (JAX keeps the linear graph instead); it
 * is the interface that matters here, and it lets a caller apply J to many tangents without
 * writing jvp each time.
 */
export function linearize<F extends TensorFn<TensorTree>>(f: F, ...primals: Parameters<F>): [ReturnType<F>, (...tangents: Parameters<F>) => GradOf<ReturnType<F>>];
export function linearize<F extends AnyFn<TensorTree>>(f: F, ...primals: Parameters<F>): [ReturnType<F>, (...tangents: GradOf<Parameters<F>> & unknown[]) => GradOf<ReturnType<F>>];
export function linearize(f: AnyFn<unknown>, ...primals: unknown[]): [unknown, (...tangents: never[]) => unknown] {
  functionArgument('linearize', 'the function to linearize', f);
  const zeros = primals.map((p) => mapTree(p, (leaf) => (leaf instanceof Tensor ? zerosLike(leaf) : leaf)));
  const [y] = jvpCore('linearize', f, primals, zeros);
  return [y, (...tangents: unknown[]) => jvpCore('linearize', f, primals, tangents)[1]];
}

/**
 * jvp by the double-vjp trick (the pullback u ↦ Jᵀu is linear in u, so differentiating
 * ⟨Jᵀu, t⟩ with respect to u gives J·t): two backward passes instead of one forward pass.
 * Kept only so that tests can check forward mode against it; tensors only, one output.
 */
export function jvpByDoubleVjp(f: (...args: Tensor[]) => Tensor, primals: readonly Tensor[], tangents: readonly Tensor[]): [Tensor, Tensor] {
  tensorListArgument('jvp', primals, 'the primals to be a list of Tensors');
  tensorListArgument('jvp', tangents, 'the tangents to be a list of Tensors');
  checkJvpArguments('jvp', f, primals, tangents);
  const { out, inputs } = evaluate('jvp', f, primals, primals.map((_, i) => i));
  const y = out as Tensor;
  const createGraph = dependsOnOuterTensors(y, inputs);
  if (!y.requiresGrad) return [y, scalarTensor(0, y.dtype).expand(y.shape).contiguous()];
  const u = scalarTensor(0, y.dtype).expand(y.shape).contiguous().requireGrad();
  const pulled = gradients([y], inputs, { gradOutputs: [u], createGraph: true, retainGraph: true, allowUnused: true });
  const inner = withGradMode(true, () => sumOfInnerProducts(pulled, tangents)!);
  const [tangentOut] = inner.requiresGrad
    ? gradients([inner], [u], { createGraph })
    : [scalarTensor(0, y.dtype).expand(y.shape).contiguous()];
  return [createGraph ? y : y.detach(), tangentOut!];
}

/**
 * Σᵢ ⟨aᵢ, bᵢ⟩ as one scalar tensor (pairs with a null side are skipped; null when none is left):
 * the inner product behind the double-vjp trick and the HVP.
 */
export function sumOfInnerProducts(as: readonly (Tensor | null | undefined)[], bs: readonly (Tensor | null | undefined)[]): Tensor | null {
  let total: Tensor | null = null;
  as.forEach((a, i) => {
    const b = bs[i];
    if (!a || !b) return;
    const term = a.mul(b).sum();
    total = total ? total.add(term) : term;
  });
  return total;
}

// ---- hvp -----------------------------------------------------------------------------------

/**
 * hvp(f, x, v) = ∇²f(x)·v, by default by double backward: the vjp of ∇f with cotangent v, which
 * is grad(x ↦ ⟨∇f(x), v⟩)(x) to the bit; `{ mode: 'forward' }` computes jvp(∇f)(x; v)
 * (forward-over-reverse) instead (docs/transforms.md compares the two). `x` and `v` may
 * be single tensors (→ a Tensor) or equal-length lists (→ a list: a block Hessian applied to
 * the block vector v). Both modes give the same product to rounding.
 * @example hvp((x) => x.pow(3).sum(), x, v) // 6x·v
 * @example hvp(f, x, v, { mode: 'forward' }) // the same product by forward-over-reverse
 */
export function hvp(f: TensorFn<Tensor>, x: Tensor, v: Tensor, options?: { mode?: 'forward' | 'reverse' }): Tensor;
export function hvp<const X extends readonly Tensor[]>(f: TensorFn<Tensor>, x: X, v: { readonly [K in keyof X]: Tensor }, options?: { mode?: 'forward' | 'reverse' }): { -readonly [K in keyof X]: Tensor };
export function hvp(f: TensorFn<Tensor>, x: Tensor | readonly Tensor[], v: Tensor | readonly Tensor[], options?: { mode?: 'forward' | 'reverse' }): Tensor | Tensor[];
export function hvp(f: TensorFn<Tensor>, x: Tensor | readonly Tensor[], v: Tensor | readonly Tensor[], options?: { mode?: 'forward' | 'reverse' }): Tensor | Tensor[] {
  functionArgument('hvp', 'the function to differentiate', f);
  const xs = x instanceof Tensor ? [x] : tensorListArgument('hvp', x, 'the primals to be a Tensor or a list of Tensors');
  const vs = v instanceof Tensor ? [v] : tensorListArgument('hvp', v, 'the directions to be a Tensor or a list of Tensors');
  xs.forEach((xi) => floatOperand('hvp', xi));
  vs.forEach((vi) => floatOperand('hvp', vi, 'a direction Tensor'));
  vs.forEach((vi, i) => {
    if (i < xs.length && formatShape(vi.shape) !== formatShape(xs[i]!.shape)) {
      throw new ShapeError(`hvp: direction ${i} must have the primal's shape ${formatShape(xs[i]!.shape)}; got ${formatShape(vi.shape)}`);
    }
    if (i < xs.length) assertSameDType(`hvp (direction ${i} and its primal)`, vi.dtype, xs[i]!.dtype);
  });
  if (xs.length !== vs.length) throw new GradError(`hvp: got ${xs.length} primals but ${vs.length} directions`);
  const { mode = 'reverse' } = optionsArgument('hvp', options);
  if (mode !== 'forward' && mode !== 'reverse') throw new ValueError(`hvp: expected mode to be 'forward' or 'reverse'; got ${describeValue(mode)}`);
  const argnums = xs.map((_, i) => i);
  let out: Tensor[];
  if (mode === 'reverse') {
    // The vjp of ∇f with cotangent v, (∂∇f/∂x)ᵀ·v = H·v: what grad(⟨∇f, v⟩) computes, to the bit
    // (that inner product's backward seeds ∇f with 1·v), without its products and sums over
    // every parameter and their backward (≈ 6 % of an MLP's HVP).
    const gradient = valueAndGradOf('hvp', f, { argnums, createGraph: true });
    out = vjpCore('hvp', (...args: Tensor[]) => gradient(...args)[1], xs, false).pullback(vs) as Tensor[];
  } else {
    // Under the jvp level the backward pass is recorded and its results keep their tangents.
    const gradient = valueAndGradOf('hvp', f, { argnums });
    out = jvpCore('hvp', (...args: Tensor[]) => gradient(...args)[1], xs, vs)[1] as Tensor[];
  }
  return x instanceof Tensor ? out[0]! : out;
}
