// The Hessian spectrum of a small MLP's loss, from Hessian-vector products only.
//
//   node examples/04-hessian-spectrum.mjs
//
// The Hessian H = ∇²L(θ) has P × P entries (P = number of parameters), too many to build for
// real networks, but H·v costs about one extra backward pass. The estimators in
// gradscope's analysis module need only that product:
//   lanczos          the top (and bottom) eigenvalues: sharpness λ_max
//   hutchinsonTrace  Tr H ≈ mean of zᵀHz over random ±1 vectors z, with a standard error
//   spectralDensity  the whole eigenvalue distribution (stochastic Lanczos quadrature)
// The model here is small enough (P = 195) to also build H exactly and compare.
import {
  mlp,
  tensor,
  gaussianMixture,
  hessianOperator,
  lanczos,
  hutchinsonTrace,
  spectralDensity,
  fullHessian,
  symmetricEigenvalues,
} from 'gradscope';

// Synthetic data: 3 Gaussian classes in 8 dimensions (seeded, so every run is the same).
const data = gaussianMixture({ n: 128, d: 8, classes: 3, seed: 0 });
const batch = {
  x: tensor(data.features, { shape: [data.length, data.dim], dtype: 'float64' }),
  targets: Array.from(data.targets),
};
const model = mlp([8, 16, 3], { seed: 1, dtype: 'float64', activation: 'tanh' });
console.log('parameters:', model.numParameters()); // 195

// v ↦ H·v for the mean cross-entropy over the batch. (BatchNorm's mode must always be
// named; this model has none, so 'eval' and 'train' agree.)
const H = hessianOperator(model, batch, { batchNorm: 'eval' });

// Lanczos: 40 products give the extreme eigenvalues to many digits.
const { top, min } = lanczos(H, 3, { seed: 0, iterations: 40 });
console.log('lanczos top-3:', top.map((v) => v.toFixed(4)).join(' '), ' smallest:', min.toFixed(4));

// Hutchinson: stops once the standard error is under 10% of the estimate (at most 100 probes).
const trace = hutchinsonTrace(H, { seed: 0, maxProbes: 100, tolerance: 0.1 });
console.log(`hutchinson trace: ${trace.estimate.toFixed(3)} ± ${trace.standardError.toFixed(3)} (${trace.probes} probes)`);

// Spectral density on a grid: the fraction of the 195 eigenvalues near each point. Here we
// read one number off it: the share of eigenvalues above 0.5 (compared with the exact one below).
const density = spectralDensity(H, { seed: 0, probes: 4, iterations: 30, grid: 400 });
const dt = density.grid[1] - density.grid[0];
let above = 0;
for (let i = 0; i < density.grid.length; i++) if (density.grid[i] > 0.5) above += density.density[i] * dt;
console.log(`spectral density: ${(100 * above).toFixed(1)}% of the eigenvalues above 0.5`);

// The exact answer for comparison: all of H (195 products) and its eigenvalues.
const exact = symmetricEigenvalues(fullHessian(model, batch, { batchNorm: 'eval' })); // ascending
const exactTrace = exact.reduce((s, v) => s + v, 0);
console.log('exact top-3:  ', [...exact].reverse().slice(0, 3).map((v) => v.toFixed(4)).join(' '), ' trace:', exactTrace.toFixed(3));
console.log(`lanczos matches the exact lambda_max: ${Math.abs(top[0] - exact[exact.length - 1]) < 1e-8}`);
const exactAbove = exact.filter((v) => v > 0.5).length / exact.length;
console.log(`exact: ${(100 * exactAbove).toFixed(1)}% of the eigenvalues above 0.5`);
console.log(`exact trace within 3 standard errors: ${Math.abs(trace.estimate - exactTrace) < 3 * trace.standardError}`);
