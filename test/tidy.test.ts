/**
 * tidy(fn) (src/tensor/tidy.ts): what it releases, what it keeps, that released memory is reused
 * without ever showing a live tensor another tensor's numbers, and that a step scoped with it
 * computes what the eager step computes, on both CPU backends, over 10,000 steps without growth.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  Adam,
  BatchNorm1d,
  crossEntropy,
  emptyTidyPool,
  getBackend,
  gradients,
  keep,
  Linear,
  mlp,
  perSampleGrads,
  PerSampleWorkspace,
  randn,
  ReLU,
  Sequential,
  setBackend,
  SgdUpdate,
  tensor,
  tidy,
  tidyPoolSize,
  untracked,
  vmap,
  zeros,
  type Module,
  Tensor,
} from '../src/index.js';

const released = /released by tidy\(\)/;
const values = (t: Tensor) => Array.from(t.toTypedArray());

/** A model step: loss and gradients of every parameter, on a fixed batch. */
function step(model: Module, x: Tensor, y: number[]): { loss: Tensor; grads: Tensor[] } {
  const loss = crossEntropy(model.forward(x), y);
  return { loss, grads: gradients([loss], model.parameters()) };
}

const initial = getBackend().name;
afterEach(() => setBackend(initial));

describe.each(['cpu', 'wasm'] as const)('tidy on the %s backend', (backend) => {
  it('returns what fn returns, and releases what fn created and did not return', () => {
    setBackend(backend);
    const x = randn([4, 5], { seed: 1 });
    let inner: Tensor | undefined;
    const out = tidy(() => {
      inner = x.mul(2);
      return inner.add(1);
    });
    expect(values(out)).toEqual(values(x.mul(2).add(1)));
    expect(() => inner!.toTypedArray()).toThrow(released);
    expect(() => inner!.add(1)).toThrow(released);
    // Shapes stay readable: only the numbers are gone.
    expect(inner!.shape).toEqual([4, 5]);
    // What existed before the scope is untouched.
    expect(values(x)).toEqual(values(randn([4, 5], { seed: 1 })));
  });

  it('keeps the tensors of arrays, Maps and plain objects it returns, and views of them', () => {
    setBackend(backend);
    const x = randn([3, 4], { seed: 2 });
    const out = tidy(() => ({ list: [x.exp()], map: new Map([['t', x.neg()]]), view: x.add(3).reshape([12]).slice([[2, 6]]) }));
    expect(values(out.list[0]!)).toEqual(values(x.exp()));
    expect(values(out.map.get('t')!)).toEqual(values(x.neg()));
    expect(values(out.view)).toEqual(values(x.add(3).reshape([12]).slice([[2, 6]])));
  });

  it('nests: an inner scope hands what it returns to the outer one, which releases it unless returned', () => {
    setBackend(backend);
    const x = randn([6], { seed: 3 });
    let fromInner: Tensor | undefined;
    const kept = tidy(() => {
      fromInner = tidy(() => x.mul(3));
      const alsoReturned = tidy(() => x.mul(4));
      expect(values(fromInner)).toEqual(values(x.mul(3)));
      return alsoReturned;
    });
    expect(() => fromInner!.toTypedArray()).toThrow(released);
    expect(values(kept)).toEqual(values(x.mul(4)));
  });

  it('keep() and untracked() exempt tensors from release', () => {
    setBackend(backend);
    const x = randn([5], { seed: 4 });
    let a: Tensor | undefined;
    let b: Tensor | undefined;
    tidy(() => {
      a = keep(x.add(1));
      b = untracked(() => x.add(2));
    });
    expect(values(a!)).toEqual(values(x.add(1)));
    expect(values(b!)).toEqual(values(x.add(2)));
  });

  it('releases when fn throws, and rethrows', () => {
    setBackend(backend);
    const x = randn([5], { seed: 5 });
    let made: Tensor | undefined;
    expect(() =>
      tidy(() => {
        made = x.add(1);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(() => made!.toTypedArray()).toThrow(released);
  });

  it('reuses released memory, zero-filled where the op expects zeros, never under a live tensor', () => {
    setBackend(backend);
    const x = randn([64, 64], { seed: 6 });
    const survivor = tidy(() => {
      x.mul(5); // released: its array goes to the pool
      return x.mul(7);
    });
    const before = tidyPoolSize().arrays;
    expect(before).toBeGreaterThan(0);
    const z = tidy(() => zeros([64, 64]).add(0));
    expect(values(z).every((v) => v === 0)).toBe(true);
    // The survivor still holds its own numbers after every pooled array was handed out again.
    for (let i = 0; i < 5; i++) tidy(() => x.mul(i).add(1));
    expect(values(survivor)).toEqual(values(x.mul(7)));
  });

  it('never pools memory that a returned tensor still views through another storage', () => {
    setBackend(backend);
    const x = randn([32, 32], { seed: 9 });
    const view = tidy(() => {
      const base = x.add(1);
      // A second storage over part of base's buffer (what a kernel returning a slice of a packed result would make).
      return Tensor.fromData(base.data.subarray(0, 16), [16]);
    });
    const expected = values(view);
    // Outside any scope these draw on the pool: none may get base's memory.
    const others = [2, 3, 4].map((k) => x.mul(k));
    expect(values(view)).toEqual(expected);
    others.forEach((t, i) => expect(values(t)).toEqual(values(x.mul(i + 2))));
  });

  it('pools an array once when two released storages share it: two later results never get one array', () => {
    setBackend(backend);
    const x = randn([24, 24], { seed: 10 });
    tidy(() => {
      const a = x.add(1);
      Tensor.fromData(a.data, [24, 24]); // a second storage over a's array, released with it
    });
    // Outside any scope both draw on the pool: each must get an array of its own.
    const [p, q] = [x.mul(2), x.mul(3)];
    expect(p.data).not.toBe(q.data);
    expect(values(p)).toEqual(values(x).map((v) => Math.fround(v * 2)));
  });

  it('property: a scoped computation equals the eager one, step after step, as pooled memory cycles', () => {
    setBackend(backend);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 1000 }), (r, c, seed) => {
        const a = randn([r, c], { seed });
        const b = randn([c], { seed: seed + 1 });
        const eager = a.mul(b).relu().add(a.exp()).sum([1]);
        for (let k = 0; k < 3; k++) {
          const scoped = tidy(() => a.mul(b).relu().add(a.exp()).sum([1]));
          expect(values(scoped)).toEqual(values(eager));
        }
      }),
      { numRuns: 60 },
    );
  });

  it('a training step inside tidy matches the eager step: SGD with momentum, Adam, BatchNorm in train mode', () => {
    setBackend(backend);
    const build = () => new Sequential(new Linear(6, 8, { seed: 1 }), new BatchNorm1d(8), new ReLU(), new Linear(8, 3, { seed: 2 }));
    const x = randn([10, 6], { seed: 7 });
    const y = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0];
    const run = (scoped: boolean) => {
      const model = build().train();
      const rules = [new SgdUpdate({ momentum: 0.9 }), new Adam()];
      const losses: number[] = [];
      for (let s = 0; s < 4; s++) {
        const body = () => {
          const { loss, grads } = step(model, x, y);
          rules[s % 2]!.step(model.parameters(), grads, 0.05);
          losses.push(loss.item());
        };
        if (scoped) tidy(body);
        else body();
      }
      return { losses, state: model.parameters().concat(model.buffers()).map(values) };
    };
    const eager = run(false);
    const scoped = run(true);
    expect(scoped.losses).toEqual(eager.losses);
    expect(scoped.state).toEqual(eager.state);
  });

  it('keeps .grad: backward() inside tidy accumulates into the leaves as outside it', () => {
    setBackend(backend);
    const x = randn([4, 3], { seed: 11 });
    const run = (scoped: boolean) => {
      const w = randn([3, 2], { seed: 12 }).requireGrad();
      for (let s = 0; s < 2; s++) {
        const body = () => x.matmul(w).tanh().sum().backward();
        if (scoped) tidy(body);
        else body();
      }
      return values(w.grad!);
    };
    expect(run(true)).toEqual(run(false));
  });

  it('a model built inside tidy keeps its parameters', () => {
    setBackend(backend);
    const model = tidy(() => mlp([4, 5, 2], { seed: 3 }));
    const x = randn([2, 4], { seed: 8 });
    expect(values(model.forward(x))).toEqual(values(mlp([4, 5, 2], { seed: 3 }).forward(x)));
  });

  it('perSampleGrads with a reused workspace and vmap inside tidy give the eager numbers', () => {
    setBackend(backend);
    const model = mlp([5, 4, 3], { seed: 5 });
    const targets = [0, 1, 2, 1];
    const batches = [0, 1, 2].map((k) => randn([4, 5], { seed: 20 + k }));
    const eager = batches.map((x) => [...perSampleGrads(model, { x, targets }).grads!.values()].map(values));
    const workspace = new PerSampleWorkspace();
    for (let round = 0; round < 2; round++) {
      batches.forEach((x, k) => {
        const rows = tidy(() => [...perSampleGrads(model, { x, targets }, { workspace }).grads!.values()].map(values));
        expect(rows).toEqual(eager[k]);
      });
    }
    const x = batches[0]!;
    const squares = vmap((row: Tensor) => row.mul(row).sum());
    expect(values(tidy(() => squares(x)))).toEqual(values(squares(x)));
  });

  it("never pools a PerSampleWorkspace's arrays: tensors made between two scoped calls keep their numbers", () => {
    setBackend(backend);
    const model = mlp([5, 4, 3], { seed: 5 });
    const targets = [0, 1, 2, 1];
    const [x0, x1] = [randn([4, 5], { seed: 30 }), randn([4, 5], { seed: 31 })];
    const shapes = [...perSampleGrads(model, { x: x0, targets }).grads!.values()].map((g) => g.shape);
    const workspace = new PerSampleWorkspace();
    tidy(() => void perSampleGrads(model, { x: x0, targets }, { workspace }));
    const bystanders = shapes.map((shape, k) => zeros(shape).fill_(k + 1));
    tidy(() => void perSampleGrads(model, { x: x1, targets }, { workspace }));
    bystanders.forEach((t, k) => expect(values(t).every((v) => v === k + 1)).toBe(true));
  });
});

describe('tidy', () => {
  it('refuses what is not a function, and a Promise result', () => {
    expect(() => tidy(3 as unknown as () => void)).toThrow(/tidy: expected fn to be a function; got 3/);
    expect(() => tidy(async () => tensor([1]))).toThrow(/tidy: fn returned a Promise/);
    expect(() => keep({} as Tensor)).toThrow(/keep: expected a Tensor; got an object/);
    expect(() => untracked(null as unknown as () => void)).toThrow(/untracked: expected fn to be a function; got null/);
  });

  it('emptyTidyPool drops what the pool holds', () => {
    tidy(() => void randn([16, 16], { seed: 1 }).exp());
    expect(tidyPoolSize().bytes).toBeGreaterThan(0);
    emptyTidyPool();
    expect(tidyPoolSize()).toEqual({ arrays: 0, bytes: 0 });
  });

  it('does not grow over 10,000 scoped steps: the pool stays the size of one step', () => {
    const model = mlp([8, 16, 4], { seed: 1 });
    const x = randn([4, 8], { seed: 2 });
    const y = [0, 1, 2, 3];
    const rule = new SgdUpdate({ momentum: 0.9 });
    const sizes: number[] = [];
    for (let s = 0; s < 10_000; s++) {
      tidy(() => {
        const { grads } = step(model, x, y);
        rule.step(model.parameters(), grads, 1e-3);
      });
      if (s % 1000 === 999) sizes.push(tidyPoolSize().bytes);
    }
    expect(new Set(sizes).size).toBe(1);
    expect(sizes[0]!).toBeLessThan(1 << 20);
    expect(Number.isFinite(step(model, x, y).loss.item())).toBe(true);
  });
});
