// Autodiff basics: grad, grad of grad, jvp / vjp and vmap.
//
// Run from the repository root after `npm run build`:
//   node examples/01-autodiff-basics.mjs
//
// Every transform takes a function of tensors and returns a new function. They compose,
// so grad(grad(f)) is the second derivative and vmap(grad(f)) gives one gradient per row.
import { tensor, grad, valueAndGrad, jvp, vjp, vmap, onesLike } from 'gradscope';

/** Round every number of a tensor for printing (float64 results are exact up to rounding). */
const show = (t) => JSON.stringify(t.toArray(), (_, v) => (typeof v === 'number' ? Number(v.toFixed(4)) : v));

// float64 keeps the printed numbers exact; the default dtype is float32.
const x = tensor([1, 2, 3], { dtype: 'float64' });

// 1. grad: f(x) = Σ x³ has gradient 3x².
const f = (x) => x.pow(3).sum();
console.log('grad of sum(x^3) at [1,2,3]:', show(grad(f)(x))); // [3,12,27]

// valueAndGrad returns f(x) as well, for the price of one forward and one backward pass.
const [value, g] = valueAndGrad(f)(x);
console.log('value and grad:', value.item(), show(g)); // 36 [3,12,27]

// 2. Higher order: backward rules are themselves differentiable, so grad nests.
//    For c(t) = t³: c' = 3t², c'' = 6t, c''' = 6. At t = 2: 12, 12, 6.
const cube = (t) => t.pow(3);
const t = tensor(2, { dtype: 'float64' });
console.log('d/dt t^3 at 2:', grad(cube)(t).item()); // 12
console.log('d2/dt2 t^3 at 2:', grad(grad(cube))(t).item()); // 12
console.log('d3/dt3 t^3 at 2:', grad(grad(grad(cube)))(t).item()); // 6

// 3. Forward mode: jvp(f, primals, tangents) = [f(x), J·v] in one forward pass.
//    For exp, J is diagonal with eˣ on it, so J·v = eˣ ⊙ v.
const v = tensor([1, 0, -1], { dtype: 'float64' });
const [y, jv] = jvp((x) => x.exp(), [x], [v]);
console.log('jvp of exp:', show(y), show(jv)); // [2.7183,7.3891,20.0855] [2.7183,0,-20.0855]

// 4. Reverse mode by hand: vjp returns the output and a pullback u ↦ uᵀJ (one entry per primal).
//    For h(x) = x ⊙ x, uᵀJ = 2x ⊙ u.
const [h, pullback] = vjp((x) => x.mul(x), x);
const [ujx] = pullback(onesLike(h));
console.log('vjp of x*x with u = 1:', show(ujx)); // [2,4,6]

// 5. vmap: write the function for ONE sample, get it for a batch. Here: the norm of each row.
const rows = tensor([[3, 4], [6, 8], [5, 12]], { dtype: 'float64' });
const norm = (r) => r.mul(r).sum().sqrt();
console.log('vmap(norm) over rows:', show(vmap(norm)(rows))); // [5,10,13]

// ...and composed with grad: the gradient of each row's norm, r / ‖r‖ (a unit vector).
console.log('vmap(grad(norm)):', show(vmap(grad(norm))(rows))); // [[0.6,0.8],[0.6,0.8],[0.3846,0.9231]]
