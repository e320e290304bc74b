// A dedicated Web Worker that trains a tiny model with gradscope, so the page stays responsive.
//
// The page (index.html) posts { steps, lr }; the worker answers with one 'progress' message
// every 10 steps and a 'done' message at the end. gradscope's core imports no Node built-ins,
// so this file runs unchanged in a browser Worker (and, for the test, in Node: see the README).
import { tensor, valueAndGrad, currentBackendInfo } from 'gradscope';

// Logistic regression on four points: p(y=1 | x) = sigmoid(w·x + b).
const x = tensor([[0, 0], [0, 1], [1, 0], [1, 1]], { dtype: 'float64' });
const y = tensor([0, 0, 0, 1], { dtype: 'float64' }); // logical AND
const loss = (w, b) => {
  const p = x.matmul(w).add(b).sigmoid();
  // binary cross-entropy: −mean(y log p + (1 − y) log(1 − p))
  return y.mul(p.log()).add(y.neg().add(1).mul(p.neg().add(1).log())).mean().neg();
};
const lossAndGrads = valueAndGrad(loss, { argnums: [0, 1] });

self.addEventListener('message', (event) => {
  const { steps, lr } = event.data;
  let w = tensor([0, 0], { dtype: 'float64' });
  let b = tensor(0, { dtype: 'float64' });
  let value = NaN;
  for (let step = 1; step <= steps; step++) {
    const [l, [gw, gb]] = lossAndGrads(w, b);
    // A top-level valueAndGrad returns graph-free tensors, so plain ops make the new iterate.
    w = w.sub(gw.mul(lr));
    b = b.sub(gb.mul(lr));
    value = l.item();
    if (step % 10 === 0) self.postMessage({ type: 'progress', step, loss: value });
  }
  const p = x.matmul(w).add(b).sigmoid();
  self.postMessage({ type: 'done', backend: currentBackendInfo().name, loss: value, probabilities: Array.from(p.toTypedArray()) });
});
