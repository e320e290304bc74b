/**
 * Function transforms in the style of JAX: grad, valueAndGrad, vjp, jvp, hvp. They compose
 * (grad of grad of grad works) because backward rules are differentiable ops.
 *
 * How nesting stays correct: each transform differentiates with respect to its own fresh
 * node — `identity(x)` when x is already being differentiated by an outer transform, a fresh
 * leaf otherwise — so an inner transform never confuses its perturbation with an outer one's.
 * The transform records its backward pass (createGraph) exactly when its result can depend on
 * something outside it that requires grad: an argument being differentiated by an outer
 * transform, or a tensor `f` closes over (a parameter, an outer transform's variable). Then the
 * result is differentiable with respect to those, as in JAX; otherwise the backward runs
 * without recording. `{ createGraph }` overrides the choice.
 */
import { GradError, ShapeError, ValueError, describeValue, formatShape } from '../tensor/errors.js';
import { Tensor } from '../tensor/tensor.js';
import { gradients } from './engine.js';
import { isGradEnabled, withGradMode } from './mode.js';
import { floatOperand, scalarTensor, tensorArgument, tensorListArgument } from './operands.js';
import { identity } from './ops/identity.js';
import { boolArgument, functionArgument, intArgument, optionsArgument } from '../tensor/arguments.js';
import { assertFloat } from '../tensor/dtype.js';

export interface TransformOptions<N extends number | readonly number[]> {
  /** Which positional arguments to differentiate (default 0). */
  argnums?: N;
  /** Force a differentiable result (default: only when an argument already requires grad). */
  createGraph?: boolean;
}

type GradResult<N> = N extends number ? Tensor : Tensor[];

/** A fresh node standing for argument x inside one transform. */
function traceInput(op: string, x: unknown, position: number): Tensor {
  if (!(x instanceof Tensor)) {
    throw new GradError(`${op}: argument ${position} must be a Tensor to be differentiated; got ${x !== null && typeof x === 'object' ? describeValue(x) : typeof x}`);
  }
  assertFloat(op, x.dtype);
  if (x.requiresGrad) return identity(x);
  return x.detach().requireGrad();
}

function scalarOutput(op: string, y: unknown): Tensor {
  if (!(y instanceof Tensor) || y.size !== 1) {
    const got = y instanceof Tensor ? `shape ${formatShape(y.shape)}` : typeof y;
    throw new GradError(`${op}: the function must return a scalar tensor (one element); got ${got}`);
  }
  return y;
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
      continue;
    }
    for (const input of t.node.inputs) if (input.requiresGrad) stack.push(input);
  }
  return false;
}

function evaluate<R>(
  op: string,
  f: (...args: any[]) => R,
  args: readonly unknown[],
  argnums: readonly number[],
  forceGraph: boolean | undefined,
): { out: R; inputs: Tensor[]; createGraph: boolean } {
  for (const a of argnums) {
    if (!Number.isInteger(a) || a < 0 || a >= args.length) {
      throw new GradError(`${op}: argnums ${a} is out of range for ${args.length} arguments`);
    }
  }
  const traced = args.slice();
  const inputs = argnums.map((a) => traceInput(op, args[a], a));
  argnums.forEach((a, k) => (traced[a] = inputs[k]));
  const out = withGradMode(true, () => f(...traced));
  const createGraph = forceGraph ?? dependsOnOuterTensors(out, inputs);
  return { out, inputs, createGraph };
}

/**
 * valueAndGrad(f)(...args) → [f(...args), ∂f/∂args[argnums]].
 * @example const [loss, g] = valueAndGrad((w) => w.mul(w).sum())(w0);
 */
export function valueAndGrad<N extends number | readonly number[] = number>(
  f: (...args: any[]) => Tensor,
  options: TransformOptions<N> = {},
): (...args: any[]) => [Tensor, GradResult<N>] {
  return valueAndGradOf('valueAndGrad', f, options);
}

/** The argnums option: an integer ≥ 0 or a list of them (checked when the transform is made, not when it is called). */
function argnumsList(op: string, argnums: unknown): number[] {
  if (typeof argnums === 'number') return [intArgument(op, 'argnums', argnums)];
  if (!Array.isArray(argnums)) throw new ValueError(`${op}: expected argnums to be an integer ≥ 0 or a list of them; got ${describeValue(argnums)}`);
  return argnums.map((a) => intArgument(op, 'argnums', a));
}

function valueAndGradOf<N extends number | readonly number[]>(
  op: string,
  f: (...args: any[]) => Tensor,
  options: TransformOptions<N>,
): (...args: any[]) => [Tensor, GradResult<N>] {
  functionArgument(op, 'the function to differentiate', f);
  optionsArgument(op, options);
  const argnums = options.argnums === undefined ? 0 : options.argnums;
  const list = argnumsList(op, argnums);
  boolArgument(op, 'createGraph', options.createGraph, false);
  return (...args) => {
    const { out, inputs, createGraph } = evaluate(op, f, args, list, options.createGraph);
    const y = scalarOutput(op, out);
    const grads = y.requiresGrad
      ? gradients([y], inputs, { createGraph })
      : inputs.map((x) => scalarTensor(0, x.dtype).expand(x.shape).contiguous());
    const value = createGraph ? y : y.detach();
    return [value, (typeof argnums === 'number' ? grads[0]! : grads) as GradResult<N>];
  };
}

/**
 * grad(f)(...args) → ∂f/∂args[argnums]; f must return a scalar tensor.
 * @example grad(grad(grad((x) => x.pow(3).sum())))(tensor(2)) // 6
 */
export function grad<N extends number | readonly number[] = number>(
  f: (...args: any[]) => Tensor,
  options: TransformOptions<N> = {},
): (...args: any[]) => GradResult<N> {
  const vg = valueAndGradOf('grad', f, options);
  return (...args) => vg(...args)[1];
}

/**
 * vjp(f, ...primals) → [f(primals), (cotangent) => cotangentᵀ·∂f/∂primals (one per primal)].
 * The pullback may be called several times.
 */
export function vjp(
  f: (...args: Tensor[]) => Tensor,
  ...primals: Tensor[]
): [Tensor, (cotangent: Tensor) => Tensor[]] {
  functionArgument('vjp', 'the function to differentiate', f);
  const argnums = primals.map((_, i) => i);
  const { out, inputs, createGraph } = evaluate('vjp', f, primals, argnums, undefined);
  const y = out;
  const pullback = (cotangent: Tensor): Tensor[] => {
    tensorArgument('vjp', cotangent, 'the cotangent to be a Tensor');
    if (!(y instanceof Tensor) || formatShape(cotangent.shape) !== formatShape(y.shape)) {
      throw new ShapeError(`vjp: the cotangent must have the output's shape ${y instanceof Tensor ? formatShape(y.shape) : '(no tensor output)'}; got ${formatShape(cotangent.shape)}`);
    }
    if (!y.requiresGrad) return inputs.map((x) => scalarTensor(0, x.dtype).expand(x.shape).contiguous());
    return gradients([y], inputs, { gradOutputs: [cotangent], createGraph, retainGraph: true });
  };
  return [createGraph ? y : y.detach(), pullback];
}

/**
 * jvp(f, primals, tangents) → [f(primals), J·tangents], by the double-vjp trick: the pullback
 * u ↦ Jᵀu is linear in u, so differentiating ⟨Jᵀu, t⟩ with respect to u gives J·t.
 */
export function jvp(f: (...args: Tensor[]) => Tensor, primals: readonly Tensor[], tangents: readonly Tensor[]): [Tensor, Tensor] {
  functionArgument('jvp', 'the function to differentiate', f);
  tensorListArgument('jvp', primals, 'the primals to be a list of Tensors');
  tensorListArgument('jvp', tangents, 'the tangents to be a list of Tensors');
  if (primals.length !== tangents.length) {
    throw new GradError(`jvp: got ${primals.length} primals but ${tangents.length} tangents`);
  }
  primals.forEach((p, i) => {
    if (!(tangents[i] instanceof Tensor) || formatShape(tangents[i]!.shape) !== formatShape(p.shape)) {
      throw new GradError(`jvp: tangent ${i} must have the primal's shape ${formatShape(p.shape)}; got ${tangents[i] instanceof Tensor ? formatShape(tangents[i]!.shape) : typeof tangents[i]}`);
    }
  });
  const argnums = primals.map((_, i) => i);
  const { out: y, inputs, createGraph } = evaluate('jvp', f, primals, argnums, undefined);
  if (!y.requiresGrad) return [y, scalarTensor(0, y.dtype).expand(y.shape).contiguous()];
  const u = scalarTensor(0, y.dtype).expand(y.shape).contiguous().requireGrad();
  const pulled = gradients([y], inputs, { gradOutputs: [u], createGraph: true, retainGraph: true, allowUnused: true });
  const inner = withGradMode(true, () =>
    pulled.reduce((acc: Tensor | null, g, i) => {
      const term = g.mul(tangents[i]!).sum();
      return acc ? acc.add(term) : term;
    }, null)!,
  );
  const [tangentOut] = inner.requiresGrad
    ? gradients([inner], [u], { createGraph })
    : [scalarTensor(0, y.dtype).expand(y.shape).contiguous()];
  return [createGraph ? y : y.detach(), tangentOut!];
}

/**
 * hvp(f, x, v) = ∇²f(x)·v as grad(x ↦ ⟨∇f(x), v⟩)(x) (double backward). `x` and `v` may be
 * single tensors or equal-length lists (a block Hessian applied to the block vector v).
 * @example hvp((x) => x.pow(3).sum(), x, v) // 6x·v
 */
export function hvp(f: (...args: Tensor[]) => Tensor, x: Tensor | readonly Tensor[], v: Tensor | readonly Tensor[]): Tensor | Tensor[] {
  functionArgument('hvp', 'the function to differentiate', f);
  const xs = x instanceof Tensor ? [x] : tensorListArgument('hvp', x, 'the primals to be a Tensor or a list of Tensors');
  const vs = v instanceof Tensor ? [v] : tensorListArgument('hvp', v, 'the directions to be a Tensor or a list of Tensors');
  xs.forEach((xi) => floatOperand('hvp', xi));
  vs.forEach((vi) => floatOperand('hvp', vi, 'a direction Tensor'));
  vs.forEach((vi, i) => {
    if (i < xs.length && formatShape(vi.shape) !== formatShape(xs[i]!.shape)) {
      throw new ShapeError(`hvp: direction ${i} must have the primal's shape ${formatShape(xs[i]!.shape)}; got ${formatShape(vi.shape)}`);
    }
  });
  if (xs.length !== vs.length) throw new GradError(`hvp: got ${xs.length} primals but ${vs.length} directions`);
  const argnums = xs.map((_, i) => i);
  const inner = (...args: Tensor[]) => {
    const g = grad(f, { argnums, createGraph: true })(...args);
    return g.reduce((acc: Tensor | null, gi, i) => {
      const term = gi.mul(vs[i]!).sum();
      return acc ? acc.add(term) : term;
    }, null)!;
  };
  const out = grad(inner, { argnums })(...xs);
  return x instanceof Tensor ? out[0]! : out;
}
