/**
 * A PerSampleWorkspace writes the next call's gradients into the arrays behind the tensors the
 * previous call returned (in WebAssembly memory for float32 on the wasm backend, ordinary
 * arrays otherwise). That write is an in-place modification like any other: a graph that saved
 * a returned tensor must refuse to back-propagate (GradError) rather than silently use the
 * next call's values, and the lazily computed norms of an overwritten result are refused.
 */
import { describe, expect, it } from 'vitest';
import { GradError, ones, randn } from '../../src/index.js';
import { Tanh } from '../../src/nn/activations.js';
import { Sequential } from '../../src/nn/container.js';
import { Linear } from '../../src/nn/linear.js';
import { PerSampleWorkspace, perSampleGrads } from '../../src/nn/per-sample.js';
import type { FloatDType } from '../../src/tensor/dtype.js';

const targets = [0, 1, 1, 0, 1];
const model = (dtype: FloatDType) => new Sequential(new Linear(3, 4, { seed: 1, dtype }), new Tanh(), new Linear(4, 2, { seed: 2, dtype }));
const batch = (seed: number, dtype: FloatDType) => ({ x: randn([5, 3], { seed, dtype }), targets });

describe('PerSampleWorkspace and version counters', () => {
  it.each(['float64', 'float32'] as const)('%s: a graph that saved a returned per-sample gradient fails its backward after the next call; the new tensors work', (dtype) => {
    const m = model(dtype);
    const ws = new PerSampleWorkspace();
    const g = perSampleGrads(m, batch(3, dtype), { workspace: ws }).grads!.get('0.weight')!;
    expect(g.shape).toEqual([5, 4, 3]);
    const before = Array.from(g.toTypedArray());
    const w = ones([5, 4, 3], { dtype }).requireGrad();
    const y = g.mul(w).sum(); // mul saves g for ∂/∂w
    const next = perSampleGrads(m, batch(4, dtype), { workspace: ws }).grads!.get('0.weight')!;
    // The hazard itself: the second call wrote into g's memory.
    expect(Array.from(g.toTypedArray())).not.toEqual(before);
    expect(Array.from(g.toTypedArray())).toEqual(Array.from(next.toTypedArray()));
    expect(() => y.backward()).toThrow(GradError);
    expect(() => y.backward()).toThrow(/a tensor of shape \[5,4,3\] saved by 'mul' was modified in place after it was saved/);
    // The new call's tensors are current: a graph over them back-propagates.
    const v = ones([5, 4, 3], { dtype }).requireGrad();
    next.mul(v).sum().backward();
    expect(Array.from(v.grad!.toTypedArray())).toEqual(Array.from(next.toTypedArray()));
  });

  it('norms of a result read after the next call are refused, naming the parameter', () => {
    const m = model('float64');
    const ws = new PerSampleWorkspace();
    const first = perSampleGrads(m, batch(3, 'float64'), { workspace: ws });
    perSampleGrads(m, batch(4, 'float64'), { workspace: ws });
    expect(() => first.norms).toThrow(GradError);
    expect(() => first.norms).toThrow(/perSampleGrads: the gradient of '0\.weight' was overwritten by a later call with the same workspace/);
  });
});
