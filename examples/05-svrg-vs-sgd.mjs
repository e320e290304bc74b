// SVRG vs SGD on a small synthetic problem.
//
//   node examples/05-svrg-vs-sgd.mjs
//
// SGD steps along the gradient of a random minibatch I. Its noise does not vanish at the
// minimum, so with a constant learning rate it stalls at a noise floor. SVRG (Johnson & Zhang
// 2013) subtracts a control variate built at a snapshot w̃ of the parameters:
//     v = g_I(w) − (g_I(w̃) − μ̃),   μ̃ = the full-data gradient at w̃ (one pass per epoch),
// which has the same mean but a variance that shrinks as w approaches w̃ → w*. The price: two
// minibatch gradients per step plus a full pass per snapshot. gradscope counts that price as
// sample-gradient evaluations (`cost`), so the two can be compared per epoch and per work.
import { gaussianMixture, mlp, tensor, crossEntropy, train, schedule, SgdEstimator, SgdUpdate, svrg } from 'gradscope';

// Softmax regression (a convex problem) on 3 overlapping Gaussian classes in 8 dimensions.
const data = gaussianMixture({ n: 256, d: 8, classes: 3, seed: 0, separation: 1.5 });
const all = { x: tensor(data.features, { shape: [data.length, data.dim], dtype: 'float64' }), targets: Array.from(data.targets) };
// The training loss over all samples and the norm of its gradient, ‖∇F(w)‖: 0 exactly at the minimum.
function measure(model) {
  model.zeroGrad();
  const loss = crossEntropy(model.forward(all.x), all.targets);
  loss.backward();
  const squares = model.parameters().map((p) => p.grad.mul(p.grad).sum().item());
  return { loss: loss.item(), gradNorm: Math.sqrt(squares.reduce((a, b) => a + b, 0)) };
}
const newModel = () => mlp([8, 3], { seed: 1, dtype: 'float64' }); // one Linear layer: the same start for both runs

function run(name, estimator, epochs) {
  const model = newModel();
  const result = train(model, data, {
    estimator,
    update: new SgdUpdate(), // plain steps w ← w − lr·v (momentum 0)
    schedule: schedule(0.5, 16), // constant learning rate 0.5, minibatches of 16
    epochs,
    seed: 2, // the batch order: the same for both methods
  });
  const { loss, gradNorm } = measure(model);
  console.log(
    `${name.padEnd(22)} epochs ${String(epochs).padStart(2)}  gradient evaluations ${String(result.cost).padStart(5)}` +
      `  training loss ${loss.toFixed(5)}  |grad| ${gradNorm.toExponential(2)}`,
  );
  return { loss, gradNorm, cost: result.cost };
}

const epochs = 10;
run('SGD', new SgdEstimator(), epochs);
const vr = run('SVRG', svrg(), epochs);
// SVRG spent about 3× SGD's work (2 minibatch gradients a step + a full pass an epoch):
// give SGD the same budget.
const sgdSameWork = run('SGD, same work as SVRG', new SgdEstimator(), Math.round(vr.cost / data.length));

// On this convex problem SVRG's variance reduction pays: its gradient norm is about 100× smaller
// than SGD's after the same epochs, and far smaller than SGD's given the same work. For deep
// networks it mostly does not (Defazio & Bottou 2019): `gradscope run variance-ratio` shows why.
console.log(`SVRG at least 10x nearer a stationary point than SGD with the same work: ${vr.gradNorm < sgdSameWork.gradNorm / 10}`);
