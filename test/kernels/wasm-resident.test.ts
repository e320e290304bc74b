/**
 * Resident tensors (src/kernels/wasm/resident.ts): inside tidy on the wasm backend, float32
 * results of RESIDENT_MIN numbers or more live in the heap's WebAssembly memory and the
 * elementwise kernels read and write them in place. Checked here: the results are the cpu
 * backend's to the bit whichever operands are resident (contiguous, offset views, broadcast
 * rows, per-channel operands, scalars, in place); what leaves every scope is copied out and
 * keeps its numbers while the heap reuses its region; the optimizers' axpy updates resident
 * arrays in place; released regions come back, and 10,000 scoped steps do not grow the heap.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  crossEntropy,
  emptyTidyPool,
  getBackend,
  gradients,
  keep,
  lenet5,
  mlp,
  randn,
  setBackend,
  SgdUpdate,
  tensor,
  tidy,
  type Module,
  type Tensor,
} from '../../src/index.js';
import { addScaledInPlace } from '../../src/kernels/cpu/elementwise.js';
import { wasmAddScaledInPlace } from '../../src/kernels/wasm/axpy.js';
import { isResident, RESIDENT_MIN, residentHeap } from '../../src/kernels/wasm/resident.js';
import { tryWasmRuntime } from '../../src/kernels/wasm/runtime.js';
import { setTidyPoolTesting } from '../../src/tensor/tidy.js';

const initial = getBackend().name;
afterEach(() => {
  setBackend(initial);
  setTidyPoolTesting();
});
beforeAll(() => {
  setBackend('wasm');
  expect(residentHeap()).not.toBeNull();
});

const bits = (t: Tensor) => Array.from(new Uint32Array(Float32Array.from(t.toTypedArray()).buffer));

/**
 * `f` on the wasm backend eagerly (staged kernels) and inside tidy (resident ones), its results
 * read inside the scope: the same bits; with `cpu`, also those of the cpu backend (the
 * elementwise kernels match it to the bit, the products do not).
 */
function sameBits(f: () => Tensor[], cpu: boolean): void {
  setBackend('wasm');
  const staged = f().map(bits);
  const resident = tidy(() => f().map(bits));
  expect(resident).toEqual(staged);
  if (!cpu) return;
  setBackend('cpu');
  expect(f().map(bits)).toEqual(staged);
}

describe('resident tensors', () => {
  it('inside tidy on wasm, float32 results from RESIDENT_MIN numbers live in the heap; outside tidy, small ones and on cpu they do not', () => {
    setBackend('wasm');
    const x = randn([RESIDENT_MIN], { seed: 1 });
    expect(isResident(x.relu().data)).toBe(false);
    tidy(() => {
      expect(isResident(x.relu().data)).toBe(true);
      expect(isResident(x.relu().relu().data)).toBe(true);
      expect(isResident(randn([RESIDENT_MIN - 1], { seed: 2 }).relu().data)).toBe(false);
      expect(isResident(randn([RESIDENT_MIN], { seed: 2, dtype: 'float64' }).relu().data)).toBe(false);
    });
    setBackend('cpu');
    emptyTidyPool(); // the pool hands its arrays, resident or not, to any allocation of their size in a scope
    tidy(() => expect(isResident(x.relu().data)).toBe(false));
  });

  it('elementwise kernels on resident operands give the cpu bits: contiguous, offset views, rows, channels, scalars, in place', () => {
    sameBits(() => {
      const a = randn([16, 8, 8, 8], { seed: 3 }).relu(); // resident on wasm inside tidy
      const b = randn([16, 8, 8, 8], { seed: 4 }).add(0.5);
      const channel = randn([1, 8, 1, 1], { seed: 5 });
      const row = randn([8], { seed: 6 });
      const sliced = randn([20, 8, 8, 8], { seed: 7 }).mul(2).slice([[3, 19]]); // offset view of a resident array
      const inPlace = a.mul(1).add_(b);
      return [
        a.add(b), a.sub(b), a.mul(b), a.div(b.abs().add(1)),
        a.add(channel), channel.mul(a), a.div(channel), a.sub(row), a.mul(3),
        sliced.add(b), b.sub(sliced), sliced.relu(),
        inPlace,
        b.relu(), a.mul(b).relu(),
      ];
    }, true);
  });

  it('gradients through resident activations (relu backward, bias adds) give the staged bits', () => {
    sameBits(() => {
      const model = mlp([64, 128, 10], { seed: 8 });
      const x = randn([64, 64], { seed: 9 });
      const loss = crossEntropy(model.forward(x), Array.from({ length: 64 }, (_, i) => i % 10));
      return [loss, ...gradients([loss], model.parameters())];
    }, false);
  });

  it('LeNet-5 gradients (BatchNorm in eval and train mode, bias sums, pooling) give the staged bits', () => {
    for (const mode of ['eval', 'train'] as const) {
      sameBits(() => {
        const model = lenet5({ seed: 16 });
        if (mode === 'eval') model.eval();
        else model.train();
        const x = randn([32, 1, 28, 28], { seed: 17 });
        const loss = crossEntropy(model.forward(x), Array.from({ length: 32 }, (_, i) => i % 10));
        return [loss, ...gradients([loss], model.parameters())];
      }, false);
    }
  });

  it("addScaledInPlace (the optimizers' axpy) updates a resident array in place and reads a resident one, at offsets: the cpu loop's bits", () => {
    setBackend('wasm');
    const rt = tryWasmRuntime('float32')!;
    const n = RESIDENT_MIN + 5;
    const dst0 = randn([n + 3], { seed: 21 }).toTypedArray() as Float32Array;
    const src0 = randn([n + 2], { seed: 22 }).toTypedArray() as Float32Array;
    const expected = dst0.slice();
    addScaledInPlace(expected, 3, src0, 2, n, -0.37);
    for (const [dstResident, srcResident] of [[true, true], [true, false], [false, true]]) {
      tidy(() => {
        // A product by 1 keeps every bit, and inside tidy its result is resident.
        const copy = (a: Float32Array, resident: boolean) => (resident ? (tensor(a).mul(1).data as Float32Array) : a.slice());
        const [dst, src] = [copy(dst0, dstResident), copy(src0, srcResident)];
        expect([isResident(dst), isResident(src)]).toEqual([dstResident, srcResident]);
        expect(wasmAddScaledInPlace(rt, dst, 3, src, 2, n, -0.37)).toBe(true);
        expect(Array.from(dst)).toEqual(Array.from(expected));
        expect(Array.from(src)).toEqual(Array.from(src0));
      });
    }
  });

  it('what leaves the outermost scope, and what keep() exempts, is copied out and keeps its numbers while the heap reuses its region', () => {
    setBackend('wasm');
    const x = randn([RESIDENT_MIN], { seed: 10 });
    let kept: Tensor | undefined;
    const returned = tidy(() => {
      tidy(() => {
        kept = keep(x.mul(3));
      });
      return x.relu();
    });
    expect(isResident(returned.data)).toBe(false);
    expect(isResident(kept!.data)).toBe(false);
    // The regions they had are free again: new results of the same size take them.
    tidy(() => {
      for (let i = 0; i < 4; i++) x.mul(-1).relu();
    });
    expect(bits(returned)).toEqual(bits(tidy(() => x.relu().mul(1))));
    expect(Array.from(kept!.toTypedArray())).toEqual(Array.from(x.toTypedArray(), (v) => Math.fround(v * 3)));
  });

  it('a tensor returned to an enclosing scope stays resident until that scope ends', () => {
    setBackend('wasm');
    const x = randn([RESIDENT_MIN], { seed: 11 });
    tidy(() => {
      const inner = tidy(() => x.relu());
      expect(isResident(inner.data)).toBe(true);
      const again = tidy(() => x.mul(2).relu()); // must not reuse inner's region
      expect(isResident(again.data)).toBe(true);
      expect(Array.from(inner.toTypedArray())).toEqual(Array.from(x.toTypedArray(), (v) => Math.max(v, 0)));
    });
  });

  it('with every released region poisoned and reused at once, a scoped step still gives the eager bits', () => {
    setBackend('wasm');
    const model = mlp([64, 128, 10], { seed: 12 });
    const x = randn([64, 64], { seed: 13 });
    const y = Array.from({ length: 64 }, (_, i) => i % 10);
    const grads = (m: Module) => gradients([crossEntropy(m.forward(x), y)], m.parameters());
    const eager = grads(model).map(bits);
    setTidyPoolTesting({ maxBytes: 0, poison: true }); // nothing pooled: regions straight back to the heap, NaN-filled
    for (let i = 0; i < 3; i++) expect(tidy(() => grads(model).map(bits))).toEqual(eager);
    setTidyPoolTesting({ poison: true });
    for (let i = 0; i < 3; i++) expect(tidy(() => grads(model).map(bits))).toEqual(eager);
  });

  it('does not grow over 10,000 scoped training steps, and emptyTidyPool gives the pooled regions back', () => {
    setBackend('wasm');
    const model = mlp([64, 64, 10], { seed: 14 });
    const x = randn([64, 64], { seed: 15 });
    const y = Array.from({ length: 64 }, (_, i) => i % 10);
    const rule = new SgdUpdate({ momentum: 0.9 });
    const heap = residentHeap()!;
    const sizes: number[] = [];
    for (let s = 0; s < 10_000; s++) {
      tidy(() => {
        const loss = crossEntropy(model.forward(x), y);
        rule.step(model.parameters(), gradients([loss], model.parameters()), 1e-3);
      });
      if (s % 1000 === 999) sizes.push(heap.bytes);
    }
    expect(new Set(sizes).size).toBe(1);
    emptyTidyPool();
    // Every region is free now: a scope of the same step takes no new memory.
    tidy(() => gradients([crossEntropy(model.forward(x), y)], model.parameters()));
    expect(heap.bytes).toBe(sizes[0]);
  });
});
