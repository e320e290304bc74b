/**
 * Compile-time checks of the transforms' types (issue 15, item 7). Not a test file that runs:
 * `npm run typecheck` (tsc over test/) compiles it, and each `@ts-expect-error` line must be
 * an error — if a signature regresses to `any`, the directive is unused and tsc fails (TS2578).
 * `Equal` assertions pin the exact result types.
 */
import { grad, hessian, hvp, jacfwd, jacrev, jvp, tensor, valueAndGrad, vjp, type Tensor } from '../../src/index.js';

type Equal<A, B> = (<G>() => G extends A ? 1 : 2) extends <G>() => G extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(): T | void {}

const x = tensor([1, 2, 3], { dtype: 'float64' });
const cube = (x: Tensor) => x.pow(3).sum();

// grad keeps Parameters<F> and maps the return type.
// @ts-expect-error: not a tensor
grad(cube)('not a tensor');
// @ts-expect-error: a misspelt method, parameter annotated
grad((x: Tensor) => x.pwo(3));
// @ts-expect-error: a misspelt method, parameter unannotated (unannotated parameters are Tensors)
grad((x) => x.pwo(3));
// @ts-expect-error: too many arguments
grad(cube)(x, x);
// @ts-expect-error: f must return a Tensor (a scalar, checked when called)
grad((x: Tensor) => x.shape);
const g0 = grad(cube)(x);
assertType<Equal<typeof g0, Tensor>>();

// Unannotated lambdas get Tensors.
const g1 = grad((a, b) => a.mul(b).sum(), { argnums: [0, 1] })(x, x);
assertType<Equal<typeof g1, [Tensor, Tensor]>>();

// Pytrees: the gradient has the argument's structure.
type Params = { w: Tensor; layers: [Tensor, { b: Tensor }] };
const loss = (p: Params, input: Tensor, scale: number) => p.w.mul(input).sum().mul(scale);
const params: Params = { w: x, layers: [x, { b: x }] };
const gp = grad(loss)(params, x, 2);
assertType<Equal<typeof gp, { w: Tensor; layers: [Tensor, { b: Tensor }] }>>();
const gpx = grad(loss, { argnums: [0, 1] })(params, x, 2);
assertType<Equal<typeof gpx, [{ w: Tensor; layers: [Tensor, { b: Tensor }] }, Tensor]>>();
// @ts-expect-error: the number argument is a number
grad(loss)(params, x, 'two');

// hasAux: [gradients, aux], aux's type as f returns it.
const [ga, aux] = grad((x: Tensor) => [x.sum(), { n: 3, y: x }] as const, { hasAux: true })(x);
assertType<Equal<typeof ga, Tensor>>();
assertType<Equal<typeof aux, { readonly n: 3; readonly y: Tensor }>>();
const [[value, aux2], gv] = valueAndGrad((x) => [x.sum(), x.exp()], { hasAux: true })(x);
assertType<Equal<typeof value, Tensor>>();
assertType<Equal<typeof aux2, Tensor>>();
assertType<Equal<typeof gv, Tensor>>();

// vjp: the pullback takes the output's structure and returns one gradient per primal.
const [out, pullback] = vjp((a: Tensor, p: { w: Tensor }) => ({ y: a.mul(p.w), s: a.sum() }), x, { w: x });
assertType<Equal<typeof out, { y: Tensor; s: Tensor }>>();
const pulled = pullback({ y: x, s: x.sum() });
assertType<Equal<typeof pulled, [Tensor, { w: Tensor }]>>();
// @ts-expect-error: the cotangent lacks a leaf
pullback({ y: x });
const [, , vjpAux] = vjp((a: Tensor) => [a.exp(), 'note'] as const, { hasAux: true }, x);
assertType<Equal<typeof vjpAux, 'note'>>();

// jvp: tangents have the primals' structure.
const [jy, jt] = jvp((a: Tensor, p: { w: Tensor }) => [a.mul(p.w)], [x, { w: x }], [x, { w: x }]);
assertType<Equal<typeof jy, Tensor[]>>();
assertType<Equal<typeof jt, Tensor[]>>();
// @ts-expect-error: a tangent for every primal
jvp((a: Tensor, b: Tensor) => a.mul(b), [x, x], [x]);

// hvp: a Tensor for a Tensor, a tuple for a list.
const h1 = hvp(cube, x, x);
assertType<Equal<typeof h1, Tensor>>();
const h2 = hvp((a, b) => a.mul(b).sum(), [x, x], [x, x]);
assertType<Equal<typeof h2, [Tensor, Tensor]>>();

// Jacobians: the output structure, each leaf replaced by the argument's structure.
const j1 = jacrev((a: Tensor, p: { w: Tensor }) => ({ y: a.mul(p.w) }), { argnums: [0, 1] })(x, { w: x });
assertType<Equal<typeof j1, { y: [Tensor, { w: Tensor }] }>>();
const j2 = jacfwd((a: Tensor) => [a, a.sum()] as [Tensor, Tensor])(x);
assertType<Equal<typeof j2, [Tensor, Tensor]>>();
const [j3, jAux] = jacrev((a: Tensor) => [a.exp(), 7] as [Tensor, number], { hasAux: true })(x);
assertType<Equal<typeof j3, Tensor>>();
assertType<Equal<typeof jAux, number>>();
const hh = hessian((a: Tensor, b: Tensor) => a.mul(b).sum(), { argnums: [0, 1] })(x, x);
assertType<Equal<typeof hh, [[Tensor, Tensor], [Tensor, Tensor]]>>();
// @ts-expect-error: hessian needs a scalar (Tensor) function
hessian((a: Tensor) => [a]);
