/**
 * The rows written with jax-js (@jax-js/jax), as a JAX user writes them: pure functions of a
 * parameter list, `jit(valueAndGrad(loss))` for a gradient, one jitted step (value, gradient
 * and update) for training, `vmap(grad)` for per-sample gradients, `jvp` for forward mode and
 * `jvp(grad(loss))` (forward-over-reverse) for Hessian-vector products, all on its wasm device.
 * Layout NCHW with OIHW filters (lax.conv's), dense weights [in, out] (`x @ W`).
 *
 * The parameters and the batch are the gradscope rows' own numbers: the zoo model's
 * parameters (seed 0; dense weights transposed from gradscope's [out, in]), inputs `randn`
 * seed 1, the same fixed labels, so a test can check that both libraries compute the same loss.
 *
 * jax-js counts references: a function takes ownership of its arguments, `x.ref` keeps one
 * for later, `dataSync()` reads an array back and releases it. Every run passes `.ref`s of the
 * row's arrays and reads back (so releases) every result, and `dispose` frees the rest.
 *
 * jax-js runs its wasm kernels on Web Workers when the global `Worker` exists; Node has none,
 * so here it runs on one thread (the `thr` column says so).
 */
import type * as JAX from '@jax-js/jax';
import { lenet5 as zooLenet5, mlp as zooMlp, type Module, randn, type Tensor } from 'gradscope';
import { lenet5 } from './models.js';
import { convOutSize, rowThreads, type ImplRow, type TransformerLayerRow, type ZooModel } from './rows.js';
import { RowUnavailable, type Builders, type Runnable } from './runnable.js';
import { consume } from './timing.js';

export type Jax = typeof JAX;
type Arr = JAX.Array;

const LEARNING_RATE = 0.01;
const BN_EPS = 1e-5;

/** Threads jax-js's wasm device runs on here: its worker pool needs the Web Worker global. */
export function jaxjsThreads(): number {
  if (typeof (globalThis as { Worker?: unknown }).Worker === 'undefined') return 1;
  return (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 4;
}

/** How a model's BatchNorm layers run: eval (running statistics 0 and 1), train (batch statistics), or absent. */
type BatchNormMode = 'eval' | 'train' | 'none';

/** The layers of a model, in gradscope's parameter order (conv and linear: weight, bias; bn: γ, β). */
type Layer =
  | { kind: 'conv'; outChannels: number }
  | { kind: 'linear' }
  | { kind: 'bn'; channels: number; spatial: boolean }
  | { kind: 'relu' }
  | { kind: 'pool'; size: number }
  | { kind: 'flatten' };

interface Model {
  layers: Layer[];
  bn: BatchNormMode;
  /** The parameters as jax-js arrays, in layer order. */
  params: Arr[];
}

/** The zoo model's layers (src/nn/zoo.ts), without BatchNorm when `bn` is 'none'. */
function layersOf(model: ZooModel, bn: BatchNormMode): Layer[] {
  if (model.name === 'mlp') {
    const count = model.widths.length - 1;
    return Array.from({ length: count }, (_, i): Layer[] => (i < count - 1 ? [{ kind: 'linear' }, { kind: 'relu' }] : [{ kind: 'linear' }])).flat();
  }
  const net = lenet5();
  const norm = (channels: number, spatial: boolean): Layer[] => (bn === 'none' ? [] : [{ kind: 'bn', channels, spatial }]);
  const convs = net.convs.flatMap((c): Layer[] => [{ kind: 'conv', outChannels: c.outChannels }, ...norm(c.outChannels, true), { kind: 'relu' }, { kind: 'pool', size: c.pool }]);
  const dense = net.dense.flatMap((_, i): Layer[] => (i < net.dense.length - 1 ? [{ kind: 'linear' }, ...norm(net.dense[i]!.outputs, false), { kind: 'relu' }] : [{ kind: 'linear' }]));
  return [...convs, { kind: 'flatten' }, ...dense];
}

/** gradscope's zoo model for these layers (seed 0), the source of the parameter values. */
function gradscopeModel(model: ZooModel, bn: BatchNormMode): Module {
  return model.name === 'mlp' ? zooMlp(model.widths, { seed: 0, activation: 'relu' }) : zooLenet5({ seed: 0, batchNorm: bn !== 'none' });
}

/** A float32 gradscope tensor's values as a jax-js array (float64 on request), with the given shape. */
function toJax(jax: Jax, values: Float32Array, shape: number[], dtype: 'float32' | 'float64' = 'float32'): Arr {
  // np.array of a Float64Array trips over Float16Array detection on Node 20: convert on the device.
  const a = jax.numpy.array(values).reshape(shape);
  return dtype === 'float64' ? a.astype(jax.numpy.float64) : a;
}

function buildModel(jax: Jax, zoo: ZooModel, bn: BatchNormMode, dtype: 'float32' | 'float64' = 'float32'): Model {
  const layers = layersOf(zoo, bn);
  const source = gradscopeModel(zoo, bn).parameters();
  const params: Arr[] = [];
  let next = 0;
  const take = () => source[next++]!;
  for (const layer of layers) {
    if (layer.kind === 'conv' || layer.kind === 'bn') {
      for (const t of [take(), take()]) params.push(toJax(jax, Float32Array.from(t.toTypedArray()), [...t.shape], dtype));
    } else if (layer.kind === 'linear') {
      // gradscope's Linear weight is [out, in] (x @ Wᵀ); the JAX convention is [in, out] (x @ W).
      const w = take();
      const b = take();
      params.push(toJax(jax, transpose(w), [w.shape[1]!, w.shape[0]!], dtype));
      params.push(toJax(jax, Float32Array.from(b.toTypedArray()), [...b.shape], dtype));
    }
  }
  if (next !== source.length) throw new Error(`internal: jax-js model took ${next} of ${source.length} gradscope parameters`);
  return { layers, bn, params };
}

function transpose(w: Tensor): Float32Array {
  const [rows, cols] = w.shape as [number, number];
  const data = w.toTypedArray();
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]!;
  return out;
}

/**
 * BatchNorm over the batch (and spatial) axes: batch statistics (biased variance) in train
 * mode, the running statistics 0 and 1 of a fresh model in eval mode; then γ·x̂ + β.
 * NOTE: train mode does not update running statistics (they are state, which a pure function
 * would return); gradscope's rows update them, a few hundred numbers per step.
 */
function batchNorm(jax: Jax, h: Arr, gamma: Arr, beta: Arr, layer: { channels: number; spatial: boolean }, mode: BatchNormMode): Arr {
  const np = jax.numpy;
  const shape = layer.spatial ? [1, layer.channels, 1, 1] : [1, layer.channels];
  if (mode === 'eval') return h.mul(gamma.mul(1 / Math.sqrt(1 + BN_EPS)).reshape(shape)).add(beta.reshape(shape));
  const axes = layer.spatial ? [0, 2, 3] : [0];
  const centred = h.ref.sub(np.mean(h, axes, { keepdims: true }));
  const variance = np.mean(np.square(centred.ref), axes, { keepdims: true });
  return centred.mul(np.reciprocal(np.sqrt(variance.add(BN_EPS)))).mul(gamma.reshape(shape)).add(beta.reshape(shape));
}

/** The model's logits; consumes `params` and `x` (each parameter is used once). */
function forward(jax: Jax, model: Pick<Model, 'layers' | 'bn'>, params: Arr[], x: Arr): Arr {
  const { numpy: np, nn, lax } = jax;
  let h = x;
  let i = 0;
  for (const layer of model.layers) {
    switch (layer.kind) {
      case 'conv':
        h = lax.conv(h, params[i++]!, [1, 1], 'VALID').add(params[i++]!.reshape([1, layer.outChannels, 1, 1]));
        break;
      case 'linear':
        h = np.matmul(h, params[i++]!).add(params[i++]!);
        break;
      case 'bn':
        h = batchNorm(jax, h, params[i++]!, params[i++]!, layer, model.bn);
        break;
      case 'relu':
        h = nn.relu(h);
        break;
      case 'pool':
        h = lax.reduceWindow(h, (w: Arr) => np.max(w), [layer.size, layer.size], [layer.size, layer.size]);
        break;
      case 'flatten': {
        const [batch, ...rest] = h.shape as number[];
        h = h.reshape([batch!, rest.reduce((a, b) => a * b, 1)]);
        break;
      }
    }
  }
  return h;
}

/** Mean cross-entropy of the logits against one-hot targets; consumes its arguments. */
function crossEntropy(jax: Jax, logits: Arr, onehot: Arr): Arr {
  const batch = logits.shape[0]!;
  return jax.nn.logSoftmax(logits, -1).mul(onehot).sum().mul(-1 / batch);
}

/** The rows' batch: inputs randn seed 1 (as gradscope's rows), labels (i·7) mod classes, one-hot. */
function batchOf(jax: Jax, zoo: ZooModel, batch: number, dtype: 'float32' | 'float64' = 'float32'): { x: Arr; y: Arr } {
  const net = lenet5();
  const shape = zoo.name === 'mlp' ? [batch, zoo.widths[0]!] : [batch, 1, net.image, net.image];
  const classes = zoo.name === 'mlp' ? zoo.widths.at(-1)! : net.dense.at(-1)!.outputs;
  const x = toJax(jax, Float32Array.from(randn(shape, { seed: 1, dtype: 'float32' }).toTypedArray()), shape, dtype);
  const labels = jax.numpy.array(Int32Array.from({ length: batch }, (_, i) => (i * 7) % classes), { dtype: jax.numpy.int32 });
  const y = jax.nn.oneHot(labels, classes);
  return { x, y: dtype === 'float64' ? y.astype(jax.numpy.float64) : y };
}

const read = (a: Arr) => consume(a.dataSync() as ArrayLike<number>);

/** The loss of a model at `params` on (x, y); consumes everything. */
function lossFn(jax: Jax, model: Pick<Model, 'layers' | 'bn'>) {
  return (params: Arr[], x: Arr, y: Arr) => crossEntropy(jax, forward(jax, model, params, x), y);
}

/** Frees what a row holds once it is done (jitted functions keep traced programs). */
function disposer(jax: Jax, arrays: Arr[], fns: { dispose(): void }[]) {
  return () => {
    for (const f of fns) f.dispose();
    jax.tree.dispose(arrays);
  };
}

/** One jitted SGD step: value and gradient, p − lr·g; the new parameters replace the old. */
function trainStep(jax: Jax, model: Model, x: Arr, y: Arr): Runnable {
  const { tree, valueAndGrad, jit } = jax;
  const loss = lossFn(jax, model);
  const step = jit((params: Arr[], x: Arr, y: Arr) => {
    const [value, grads] = valueAndGrad(loss)(tree.ref(params), x, y);
    return [value, params.map((p, i) => p.sub(grads[i]!.mul(LEARNING_RATE)))] as [Arr, Arr[]];
  });
  let params = model.params;
  return {
    run: () => {
      const [value, next] = step(params, x.ref, y.ref);
      params = next;
      read(value);
    },
    dispose: () => {
      step.dispose();
      tree.dispose([params, x, y]);
    },
  };
}

/** Threads: jax-js runs on one here; a -2t model row is its one-thread row again. */
function requireOneThread(row: ImplRow): void {
  if (rowThreads(row) > 1 && row.kind !== 'matmul') throw new RowUnavailable('one thread only in Node (no Web Worker global for its worker pool); see the one-thread row');
}

export function jaxjsBuilders(jax: Jax): Builders {
  const { numpy: np, lax, tree, jit, valueAndGrad, grad, vmap, vjp, jvp } = jax;
  return {
    matmul: (row) => {
      // Like the tfjs peers, jax-js runs the -2t product on its one thread.
      const dtype = row.dtype ?? 'float32';
      const a = toJax(jax, Float32Array.from(randn([row.transposeA ? row.k : row.m, row.transposeA ? row.m : row.k], { seed: 1 }).toTypedArray()), row.transposeA ? [row.k, row.m] : [row.m, row.k], dtype);
      const b = toJax(jax, Float32Array.from(randn([row.k, row.n], { seed: 2 }).toTypedArray()), [row.k, row.n], dtype);
      const product = jit(row.transposeA ? (a: Arr, b: Arr) => np.matmul(a.transpose(), b) : (a: Arr, b: Arr) => np.matmul(a, b));
      const repeat = row.repeat ?? 1;
      return {
        run: () => {
          for (let i = 0; i < repeat; i++) read(product(a.ref, b.ref));
        },
        dispose: disposer(jax, [a, b], [product]),
      };
    },
    conv: (row) => {
      const out = convOutSize(row);
      const fanIn = row.inChannels * row.kernel * row.kernel;
      const x = toJax(jax, Float32Array.from(randn([row.batch, row.inChannels, row.size, row.size], { seed: 1 }).toTypedArray()), [row.batch, row.inChannels, row.size, row.size]);
      const w = toJax(jax, Float32Array.from(randn([row.outChannels, row.inChannels, row.kernel, row.kernel], { seed: 2, std: Math.sqrt(2 / fanIn) }).toTypedArray()), [row.outChannels, row.inChannels, row.kernel, row.kernel]);
      const gradOut = toJax(jax, Float32Array.from(randn([row.batch, row.outChannels, out, out], { seed: 3 }).toTypedArray()), [row.batch, row.outChannels, out, out]);
      const pad: [number, number][] = [
        [row.padding, row.padding],
        [row.padding, row.padding],
      ];
      // Forward, then both backward convolutions for the given output gradient.
      const step = jit((x: Arr, w: Arr, g: Arr) => {
        const [y, pullback] = vjp((x: Arr, w: Arr) => lax.conv(x, w, [1, 1], pad), [x, w]);
        const [dx, dw] = pullback(g) as [Arr, Arr];
        pullback.dispose();
        return [y, dx, dw] as [Arr, Arr, Arr];
      });
      return {
        run: () => step(x.ref, w.ref, gradOut.ref).forEach(read),
        dispose: disposer(jax, [x, w, gradOut], [step]),
      };
    },
    'train-mlp': (row) => {
      const zoo: ZooModel = { name: 'mlp', widths: row.widths };
      const { x, y } = batchOf(jax, zoo, row.batch);
      return trainStep(jax, buildModel(jax, zoo, 'none'), x, y);
    },
    'train-lenet': (row) => {
      const zoo: ZooModel = { name: 'lenet5' };
      const { x, y } = batchOf(jax, zoo, row.batch);
      return trainStep(jax, buildModel(jax, zoo, 'none'), x, y);
    },
    'train-zoo': (row) => {
      requireOneThread(row);
      const { x, y } = batchOf(jax, row.model, row.batch);
      return trainStep(jax, buildModel(jax, row.model, 'train'), x, y);
    },
    grad: (row) => {
      requireOneThread(row);
      const dtype = row.dtype ?? 'float32';
      const model = buildModel(jax, row.model, 'eval', dtype);
      const { x, y } = batchOf(jax, row.model, row.batch, dtype);
      const step = jit(valueAndGrad(lossFn(jax, model)));
      return {
        run: () => {
          const [value, grads] = step(tree.ref(model.params), x.ref, y.ref);
          read(value);
          (grads as Arr[]).forEach(read);
        },
        dispose: disposer(jax, [...model.params, x, y], [step]),
      };
    },
    'per-sample': () => {
      throw new RowUnavailable('no per-sample API (its way is vmap(grad): the vmap-grad rows)');
    },
    'vmap-grad': (row) => {
      const model = buildModel(jax, row.model, 'eval');
      const { x, y } = batchOf(jax, row.model, row.batch);
      const loss = lossFn(jax, model);
      // The loss of one sample: xᵢ and yᵢ with a batch axis of 1, as in gradscope's row.
      const lossOfOne = (params: Arr[], xi: Arr, yi: Arr) => loss(params, np.expandDims(xi, 0), np.expandDims(yi, 0));
      const perSample = jit(vmap(grad(lossOfOne), [null, 0, 0]));
      return {
        run: () => {
          const grads = perSample(tree.ref(model.params), x.ref, y.ref) as Arr[];
          if (grads.length !== model.params.length) throw new Error(`internal: vmap(grad) gave ${grads.length} gradients for ${model.params.length} parameters`);
          // Sample 0's gradient of each parameter: realises the whole [B, …] result without
          // copying B × P numbers out (gradscope's rows touch theirs in place).
          for (const g of grads) read(g.slice(0));
        },
        dispose: disposer(jax, [...model.params, x, y], [perSample]),
      };
    },
    forward: (row) => {
      const model = buildModel(jax, row.model, 'eval');
      const { x, y } = batchOf(jax, row.model, row.batch);
      y.dispose();
      const f = jit((params: Arr[], x: Arr) => forward(jax, model, params, x));
      return {
        run: () => read(f(tree.ref(model.params), x.ref)),
        dispose: disposer(jax, [...model.params, x], [f]),
      };
    },
    jvp: (row) => {
      const model = buildModel(jax, row.model, 'eval');
      const { x, y } = batchOf(jax, row.model, row.batch);
      y.dispose();
      const tangents = model.params.map((p, i) => toJax(jax, Float32Array.from(randn([...p.shape], { seed: 40 + i }).toTypedArray()), [...p.shape]));
      // Forward mode with respect to the parameters, the input held fixed.
      const f = jit((params: Arr[], tangents: Arr[], x: Arr) => jvp((ps: Arr[]) => forward(jax, model, ps, x), [params], [tangents]) as [Arr, Arr]);
      return {
        run: () => f(tree.ref(model.params), tree.ref(tangents), x.ref).forEach(read),
        dispose: disposer(jax, [...model.params, ...tangents, x], [f]),
      };
    },
    hvp: (row) => hvpRow(jax, row.model, row.batch),
    'hvp-fwd': (row) => hvpRow(jax, row.model, row.batch),
    'transformer-layer': (row) => transformerLayerRow(jax, row),
  };
}

/**
 * A Transformer layer the JAX way: LayerNorm written out (mean, biased variance, 1/√(σ² + ε),
 * weight and bias); attention as softmax(q kᵀ · scale [+ causal mask]) v on [B, N, L, H], the
 * mask a constant of 0 and −∞. One jitted `vjp`: the forward pass and the gradient of every input
 * for a fixed output gradient, read back.
 * NOTE: not `nn.dotProductAttention`: in jax-js 0.1.25 it builds its einsum with iterator
 * helpers (`matchAll(…).map`), which Node 20 lacks.
 */
function transformerLayerRow(jax: Jax, row: TransformerLayerRow): Runnable {
  const { numpy: np, nn, jit, vjp } = jax;
  const { batch, seq, dim } = row;
  const heads = row.heads ?? 1;
  const layerNorm = row.layer === 'layer-norm';
  const shape = layerNorm ? [batch, seq, dim] : [batch, heads, seq, dim / heads];
  const array = (s: number[], seed: number, mean = 0, std = 1) => toJax(jax, Float32Array.from(randn(s, { seed, mean, std }).toTypedArray()), s);
  const inputs = layerNorm ? [array(shape, 1), array([dim], 2, 1, 0.1), array([dim], 3, 0, 0.1)] : [1, 2, 3].map((seed) => array(shape, seed));
  const gradOut = array(shape, 9);
  const scale = 1 / Math.sqrt(dim / heads);
  const mask = row.causal ? toJax(jax, Float32Array.from({ length: seq * seq }, (_, n) => (n % seq > Math.floor(n / seq) ? -Infinity : 0)), [seq, seq]) : null;
  const f = layerNorm
    ? (x: Arr, w: Arr, b: Arr) => {
        const centred = x.ref.sub(np.mean(x, -1, { keepdims: true }));
        const variance = np.mean(np.square(centred.ref), -1, { keepdims: true });
        return centred.mul(np.reciprocal(np.sqrt(variance.add(1e-5)))).mul(w).add(b);
      }
    : (q: Arr, k: Arr, v: Arr) => {
        let scores = np.matmul(q, np.matrixTranspose(k)).mul(scale);
        if (mask) scores = scores.add(mask.ref);
        return np.matmul(nn.softmax(scores, -1), v);
      };
  const step = jit((a: Arr, b: Arr, c: Arr, g: Arr) => {
    const [y, pullback] = vjp(f, [a, b, c]);
    const grads = pullback(g) as Arr[];
    pullback.dispose();
    return [y, ...grads] as Arr[];
  });
  return {
    run: () => step(inputs[0]!.ref, inputs[1]!.ref, inputs[2]!.ref, gradOut.ref).forEach(read),
    dispose: disposer(jax, [...inputs, gradOut, ...(mask ? [mask] : [])], [step]),
  };
}

/**
 * A Hessian-vector product of the mean loss, BatchNorm in eval mode, the JAX way:
 * forward-over-reverse, `jvp(grad(loss), [params], [v])` (jax-js's documented hvp recipe), for
 * both HVP rows (gradscope's hvp rows use double backward, its hvp-fwd rows this recipe).
 */
function hvpRow(jax: Jax, zoo: ZooModel, batch: number): Runnable {
  const { tree, jit, grad, jvp } = jax;
  const model = buildModel(jax, zoo, 'eval');
  const { x, y } = batchOf(jax, zoo, batch);
  const v = model.params.map((p, i) => toJax(jax, Float32Array.from(randn([...p.shape], { seed: 4 + 100 * i }).toTypedArray()), [...p.shape]));
  const loss = lossFn(jax, model);
  const hvp = jit((params: Arr[], v: Arr[], x: Arr, y: Arr) => jvp((ps: Arr[]) => grad(loss)(ps, x, y), [params], [v])[1] as Arr[]);
  return {
    run: () => hvp(tree.ref(model.params), tree.ref(v), x.ref, y.ref).forEach((a) => consume(a.dataSync() as ArrayLike<number>)),
    dispose: () => {
      hvp.dispose();
      tree.dispose([model.params, v, x, y]);
    },
  };
}

/** The loss jax-js computes for a grad row's model and batch (tests compare it with gradscope's). */
export function jaxjsLoss(jax: Jax, zoo: ZooModel, batch: number, bn: BatchNormMode): number {
  const model = buildModel(jax, zoo, zoo.name === 'mlp' ? 'none' : bn);
  const { x, y } = batchOf(jax, zoo, batch);
  return lossFn(jax, model)(model.params, x, y).dataSync()[0]!;
}
