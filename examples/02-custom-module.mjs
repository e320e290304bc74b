// A custom Module: subclass Module, register parameters, train it for a few steps.
//
//   node examples/02-custom-module.mjs
//
// The model is a polynomial p(x) = c₀ + c₁x + c₂x² whose coefficients are parameters. We fit
// it to points of 1 − 2x + 0.5x² with plain gradient descent, the PyTorch way: forward, loss,
// backward, update, zero the gradients.
import { Module, Linear, mseLoss, linspace, noGrad, zeros } from 'gradscope';

class Polynomial extends Module {
  constructor(degree) {
    super();
    this.degree = degree;
    // registerParameter makes the tensor require grad and lists it in parameters(),
    // namedParameters() ('coefficients'), numParameters(), saveModel, functionalCall, ...
    this.registerParameter('coefficients', zeros([degree + 1], { dtype: 'float64' }));
  }

  describe() {
    return `Polynomial(degree ${this.degree})`;
  }

  // forward(x) for x of shape [N] returns p(x) of shape [N]. Read parameters with
  // this.param(name), not a field: transforms such as functionalCall swap them in there.
  forward(x) {
    const c = this.param('coefficients');
    let y = c.slice([[0, 1]]).expand(x.shape); // c₀ (a [1] slice, broadcast to [N])
    let power = x;
    for (let k = 1; k <= this.degree; k++) {
      y = y.add(power.mul(c.slice([[k, k + 1]])));
      power = power.mul(x);
    }
    return y;
  }
}

// A module may also hold other modules: registerModule gives their parameters qualified names.
class WithHead extends Module {
  constructor() {
    super();
    this.body = this.registerModule('body', new Polynomial(2));
    this.head = this.registerModule('head', new Linear(1, 1, { seed: 0, dtype: 'float64' }));
  }
  forward(x) {
    return this.head.forward(this.body.forward(x).unsqueeze(1)).reshape(x.shape); // [N] → [N, 1] → [N]
  }
}
console.log('names:', new WithHead().namedParameters().map(([name]) => name).join(', ')); // body.coefficients, head.weight, head.bias

const model = new Polynomial(2);
const x = linspace(-1, 1, 21, { dtype: 'float64' });
const target = noGrad(() => x.mul(-2).add(x.mul(x).mul(0.5)).add(1)); // 1 − 2x + 0.5x²

const lr = 0.5;
for (let step = 0; step <= 60; step++) {
  const loss = mseLoss(model.forward(x), target);
  if (step % 20 === 0) console.log(`step ${step}: loss ${loss.item().toExponential(3)}`);
  loss.backward(); // fills p.grad for every parameter
  noGrad(() => {
    for (const p of model.parameters()) p.add_(p.grad, -lr); // p ← p − lr·∂loss/∂p
  });
  model.zeroGrad(); // gradients accumulate, as in PyTorch: clear them before the next step
}

const learned = Array.from(model.parameters()[0].toTypedArray(), (c) => Number(c.toFixed(3)));
console.log('learned coefficients:', JSON.stringify(learned)); // [1,-2,0.5]
