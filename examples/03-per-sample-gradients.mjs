// Per-sample gradients, two ways, and a check that they agree.
//
//   node examples/03-per-sample-gradients.mjs
//
// A per-sample gradient is ∇θ ℓ(f(xᵢ; θ), yᵢ) for each sample i of a batch separately — what
// gradient-noise statistics, SVRG's control variates and DP-SGD's clipping need. Summing the
// batch loss and calling backward gives only their mean.
//
//  1. perSampleGrads(model, batch): gradscope's native rule, one backward pass over the batch.
//  2. vmap(grad(loss)) through functionalCall: torch.func's idiom, the model as a pure
//     function of its parameters, differentiated for one sample and vectorised over the batch.
import { mlp, randn, tensor, perSampleGrads, functionalCall, parametersByName, vmap, grad, crossEntropy } from 'gradscope';

const B = 6;
const model = mlp([4, 8, 3], { seed: 0, dtype: 'float64', activation: 'tanh' }); // Linear-Tanh-Linear
const x = randn([B, 4], { seed: 1, dtype: 'float64' });
const targets = [0, 1, 2, 1, 0, 2];

// 1. Native: a map from parameter name to a tensor [B, ...parameter shape].
const native = perSampleGrads(model, { x, targets });
for (const [name, g] of native.grads) console.log(`${name}: [${g.shape}]`);
console.log('per-sample gradient norms:', Array.from(native.norms, (n) => n.toFixed(4)).join(' '));

// 2. Functional: the loss of ONE sample as a function of the parameters (by name) ...
const sampleLoss = (params, xi, yi) => crossEntropy(functionalCall(model, params, xi.unsqueeze(0)), yi.unsqueeze(0));
// ... its gradient (w.r.t. argument 0, the parameters), mapped over axis 0 of xi and yi;
// inAxes null means "the same parameters for every sample".
const perSample = vmap(grad(sampleLoss), { inAxes: [null, 0, 0] });
const functional = perSample(parametersByName(model), x, tensor(targets, { dtype: 'int32' }));

// They are the same numbers, up to rounding.
let maxDiff = 0;
for (const [name, g] of native.grads) {
  const a = g.toTypedArray();
  const b = functional[name].contiguous().toTypedArray();
  for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
}
console.log(`max |perSampleGrads - vmap(grad)| = ${maxDiff.toExponential(1)}`);
console.log(`agree: ${maxDiff < 1e-12}`);

// The mean of the per-sample gradients is the ordinary batch gradient.
model.zeroGrad();
crossEntropy(model.forward(x), targets).backward();
const [firstName, firstParam] = model.namedParameters()[0];
const batchGrad = firstParam.grad.toTypedArray();
const meanRows = native.grads.get(firstName).mean(0).toTypedArray();
const meanDiff = Math.max(...batchGrad.map((v, i) => Math.abs(v - meanRows[i])));
console.log(`mean of rows = batch gradient of ${firstName}: ${meanDiff < 1e-12}`);
