/**
 * The rows written with gradscope's public API (what a user would write: raw tensors,
 * conv2d / maxPool2d / matmul, valueAndGrad, in-place SGD under noGrad). Layout NCHW.
 * The grad and per-sample rows use the nn layer (zoo models, perSampleGrads); the transform
 * rows (vmap-grad, forward, jvp, hvp-fwd) the same models through functionalCall and
 * vmap / grad / jvp, as a torch.func user would write them.
 */
import {
  conv2d,
  crossEntropy,
  functionalCall,
  getBackend,
  grad,
  gradients,
  jvp,
  layerNorm,
  matmul,
  maxPool2d,
  noGrad,
  parametersByName,
  randn,
  scaledDotProductAttention,
  tensor,
  valueAndGrad,
  vmap,
  zeros,
  Tensor,
  tidy,
} from 'gradscope';
import { type FloatDType, hessianVectorProduct, lenet5 as zooLenet5, mlp as zooMlp, type Module, perSampleGrads, PerSampleWorkspace } from 'gradscope';
import { lenet5, mlpLayers } from './models.js';
import {
  convOutSize,
  type ForwardRow,
  type ImplRow,
  type GradRow,
  type HvpFwdRow,
  type HvpRow,
  type JvpRow,
  type PerSampleRow,
  rowThreads,
  type TrainLenetRow,
  type TrainMlpRow,
  type TrainZooRow,
  type TransformerLayerRow,
  type VmapGradRow,
  type ZooModel,
} from './rows.js';
import { RowUnavailable, type Builders, type Runnable } from './runnable.js';
import { consume } from './timing.js';

const dtype: FloatDType = 'float32';
const LEARNING_RATE = 0.01;

/** Reading a result back: the analogue of tfjs dataSync(). */
const read = (t: Tensor) => consume(t.toTypedArray());

/**
 * Touch a result in place: per-sample gradients are B × P numbers (138 MB for the MLP), and
 * copying them out with toTypedArray would time a memcpy, not the gradients. The tensors are
 * materialised (eager backend); this reads the first and last element of each.
 */
const touch = (t: Tensor) => consume([t.data[t.offset]!, t.data[t.offset + t.size - 1]!]);

/** Fixed class targets for a batch, spread over all classes. */
function targets(batch: number, classes: number): Int32Array {
  return Int32Array.from({ length: batch }, (_, i) => (i * 7) % classes);
}

/** He-style init (std √(2/fan_in)) so the loss stays finite over many steps on one batch. */
function weight(shape: number[], fanIn: number, seed: number): Tensor {
  return randn(shape, { seed, dtype, std: Math.sqrt(2 / fanIn) });
}

/**
 * One SGD step: loss and gradients for every parameter, then p ← p − lr·g in place.
 * `loss(params)` closes over the batch.
 */
function sgdStep(params: Tensor[], loss: (params: Tensor[]) => Tensor): Runnable {
  const argnums = params.map((_, i) => i);
  const lossAndGrads = valueAndGrad((...ps: Tensor[]) => loss(ps), { argnums });
  return {
    run: () => {
      const [value, grads] = lossAndGrads(...params);
      noGrad(() => params.forEach((p, i) => p.add_(grads[i]!, -LEARNING_RATE)));
      read(value);
    },
    dispose: () => {},
  };
}

/** [W, b] for each dense layer, flattened into one list. */
function denseParams(widths: readonly number[], seed: number): Tensor[] {
  return mlpLayers(widths).flatMap((l, i) => [weight([l.inputs, l.outputs], l.inputs, seed + i), zeros([l.outputs], { dtype })]);
}

/** Dense layers with ReLU between them; `params` holds [W, b] pairs. */
function denseForward(h: Tensor, params: readonly Tensor[]): Tensor {
  const layers = params.length / 2;
  for (let i = 0; i < layers; i++) {
    h = h.matmul(params[2 * i]!).add(params[2 * i + 1]!);
    if (i < layers - 1) h = h.relu();
  }
  return h;
}

function trainMlp(row: TrainMlpRow): Runnable {
  const x = randn([row.batch, row.widths[0]!], { seed: 1, dtype });
  const y = targets(row.batch, row.widths.at(-1)!);
  return sgdStep(denseParams(row.widths, 10), (ps) => crossEntropy(denseForward(x, ps), y));
}

function trainLenet(row: TrainLenetRow): Runnable {
  const net = lenet5();
  const x = randn([row.batch, 1, net.image, net.image], { seed: 1, dtype });
  const y = targets(row.batch, net.dense.at(-1)!.outputs);
  const convParams = net.convs.flatMap((c, i) => [
    weight([c.outChannels, c.inChannels, c.kernel, c.kernel], c.inChannels * c.kernel * c.kernel, 20 + i),
    zeros([c.outChannels], { dtype }),
  ]);
  const params = [...convParams, ...denseParams([net.flat, ...net.dense.map((l) => l.outputs)], 30)];
  return sgdStep(params, (ps) => {
    let h = x;
    net.convs.forEach((c, i) => {
      const [w, b] = [ps[2 * i]!, ps[2 * i + 1]!];
      h = conv2d(h, w).add(b.reshape([1, c.outChannels, 1, 1])).relu();
      h = maxPool2d(h, c.pool).values;
    });
    h = h.reshape([row.batch, net.flat]);
    return crossEntropy(denseForward(h, ps.slice(2 * net.convs.length)), y);
  });
}

/**
 * The zoo model of a row, seed 0: in eval mode (BatchNorm on running statistics) for every row
 * but the training steps of train-zoo rows.
 */
function zooModel(model: ZooModel, type: FloatDType = dtype, mode: 'eval' | 'train' = 'eval'): Module {
  const net = model.name === 'mlp' ? zooMlp(model.widths, { seed: 0, activation: 'relu', dtype: type }) : zooLenet5({ seed: 0, dtype: type });
  return mode === 'eval' ? net.eval() : net.train();
}

/**
 * Threads are a wasm-backend setting, which the bench sets before the row (peers.ts); on any
 * other backend a row that asks for more than one is unavailable.
 */
function requireThreads(row: ImplRow): void {
  const backend = getBackend().name;
  if (rowThreads(row) > 1 && backend !== 'wasm') throw new RowUnavailable(`the ${backend} backend runs on one thread`);
}

/** The rows that run a zoo model on a batch. */
type ZooRow = GradRow | TrainZooRow | PerSampleRow | HvpRow | VmapGradRow | ForwardRow | JvpRow | HvpFwdRow;

/** The batch of a grad / per-sample row: inputs (seed 1) and fixed targets. */
function zooBatch(row: ZooRow, type: FloatDType = dtype): { x: Tensor; y: Int32Array } {
  const net = lenet5();
  const shape = row.model.name === 'mlp' ? [row.batch, row.model.widths[0]!] : [row.batch, 1, net.image, net.image];
  const classes = row.model.name === 'mlp' ? row.model.widths.at(-1)! : net.dense.at(-1)!.outputs;
  return { x: randn(shape, { seed: 1, dtype: type }), y: targets(row.batch, classes) };
}

/** One batch gradient: forward, mean cross-entropy, backward to every parameter, all read back. */
function gradRow(row: GradRow): Runnable {
  requireThreads(row);
  const model = zooModel(row.model, row.dtype);
  const params = model.parameters();
  const { x, y } = zooBatch(row, row.dtype);
  return {
    run: () => {
      const loss = crossEntropy(model.forward(x), y);
      const grads = gradients([loss], params);
      read(loss);
      grads.forEach((g) => read(g));
    },
    dispose: () => {},
  };
}

/**
 * One SGD step of a zoo model in train mode (BatchNorm normalises with the batch's statistics
 * and updates its running ones): the batch gradient, then p ← p − lr·g in place, loss read back.
 */
function trainZooRow(row: TrainZooRow): Runnable {
  requireThreads(row);
  const model = zooModel(row.model, dtype, 'train');
  const params = model.parameters();
  const { x, y } = zooBatch(row);
  return {
    run: () => {
      const loss = crossEntropy(model.forward(x), y);
      const grads = gradients([loss], params);
      noGrad(() => params.forEach((p, i) => p.add_(grads[i]!, -LEARNING_RATE)));
      read(loss);
    },
    dispose: () => {},
  };
}

/** Per-sample gradients with one workspace for all runs (the steady state); every result touched. */
function perSampleRow(row: PerSampleRow): Runnable {
  const model = zooModel(row.model);
  const { x, y } = zooBatch(row);
  const workspace = new PerSampleWorkspace();
  return {
    run: () => {
      const result = perSampleGrads(model, { x, targets: y }, { workspace });
      read(result.losses);
      for (const g of result.grads!.values()) touch(g);
    },
    dispose: () => {},
  };
}

/** One Hessian-vector product (double backward) of the mean loss, BatchNorm in eval mode, read back. */
function hvpRow(row: HvpRow): Runnable {
  const model = zooModel(row.model);
  const { x, y } = zooBatch(row);
  const v = randn([model.numParameters()], { seed: 4, dtype });
  return {
    run: () => read(hessianVectorProduct(model, { x, targets: y }, v, { batchNorm: 'eval' })),
    dispose: () => {},
  };
}

/**
 * The model's parameters by name, detached — the torch.func recipe
 * (`{k: v.detach() for k, v in model.named_parameters()}`): the transforms differentiate with
 * respect to these, and nothing records a graph back to the model's own tensors.
 */
function detachedParameters(model: Module): Record<string, Tensor> {
  return Object.fromEntries(Object.entries(parametersByName(model)).map(([name, p]) => [name, p.detach()]));
}

/** Every tensor in a pytree (arrays and plain objects of tensors). */
function leaves(tree: unknown): Tensor[] {
  if (tree instanceof Tensor) return [tree];
  if (Array.isArray(tree)) return tree.flatMap(leaves);
  if (tree !== null && typeof tree === 'object') return Object.values(tree).flatMap(leaves);
  return [];
}

/** Per-sample gradients as vmap(grad(loss of one sample)) through functionalCall; every result touched. */
function vmapGradRow(row: VmapGradRow): Runnable {
  const model = zooModel(row.model);
  const { x, y } = zooBatch(row);
  const params = detachedParameters(model);
  const targets = tensor(Array.from(y), { dtype: 'int32' });
  const lossOfOne = (p: Record<string, Tensor>, xi: Tensor, yi: Tensor) => crossEntropy(functionalCall(model, p, xi.unsqueeze(0)), yi.unsqueeze(0));
  // One workspace for all runs, as the per-sample rows have: the steady state of a loop.
  const perSample = vmap(grad(lossOfOne), { inAxes: [null, 0, 0], workspace: new PerSampleWorkspace() });
  return {
    run: () => {
      const grads = leaves(perSample(params, x, targets));
      if (grads.length !== model.parameters().length) throw new Error(`internal: vmap(grad) gave ${grads.length} gradients for ${model.parameters().length} parameters`);
      grads.forEach(touch);
    },
    dispose: () => {},
  };
}

/** The forward pass alone through functionalCall (the function the jvp row differentiates), logits read back. */
function forwardRow(row: ForwardRow): Runnable {
  const model = zooModel(row.model);
  const { x } = zooBatch(row);
  const params = detachedParameters(model);
  return {
    run: () => read(functionalCall(model, params, x)),
    dispose: () => {},
  };
}

/** Forward-mode jvp of the forward pass with respect to every parameter (input fixed); logits and tangent read back. */
function jvpRow(row: JvpRow): Runnable {
  const model = zooModel(row.model);
  const { x } = zooBatch(row);
  const params = detachedParameters(model);
  const names = Object.keys(params);
  const primals = names.map((n) => params[n]!);
  const tangents = primals.map((p, i) => randn([...p.shape], { seed: 40 + i, dtype }));
  const forward = (...ps: Tensor[]) => functionalCall(model, Object.fromEntries(names.map((n, i) => [n, ps[i]!])), x);
  return {
    run: () => {
      const [logits, tangent] = jvp(forward, primals, tangents);
      read(logits);
      read(tangent);
    },
    dispose: () => {},
  };
}

/**
 * The hvp row's product by forward-over-reverse: the tangent of grad(F) at w in direction v,
 * F the mean loss at the flat parameter vector w (same order, vector and eval BatchNorm), read back.
 */
function hvpFwdRow(row: HvpFwdRow): Runnable {
  const model = zooModel(row.model);
  const { x, y } = zooBatch(row);
  const w = model.flattenParameters();
  const v = randn([model.numParameters()], { seed: 4, dtype });
  const gradient = grad((u: Tensor) => model.callWithVector(u, () => crossEntropy(model.forward(x), y)));
  return {
    run: () => read(jvp((u: Tensor) => gradient(u), [w], [v])[1]),
    dispose: () => {},
  };
}

/**
 * A Transformer layer on [batch, seq, dim] activations: the forward pass, then the gradients of
 * every input for a fixed output gradient (seed 9), all read back. LayerNorm has a weight near 1
 * and a bias near 0; attention splits dim into `heads` heads: q, k, v [batch, heads, seq, dim/heads].
 */
function transformerLayerRow(row: TransformerLayerRow): Runnable {
  const { batch, seq, dim } = row;
  let inputs: Tensor[];
  let layer: (...inputs: Tensor[]) => Tensor;
  if (row.layer === 'layer-norm') {
    inputs = [randn([batch, seq, dim], { seed: 1, dtype }), randn([dim], { seed: 2, dtype, mean: 1, std: 0.1 }), randn([dim], { seed: 3, dtype, std: 0.1 })];
    layer = (x, w, b) => layerNorm(x!, [dim], w!, b!);
  } else {
    const shape = [batch, row.heads!, seq, dim / row.heads!];
    inputs = [1, 2, 3].map((seed) => randn(shape, { seed, dtype }));
    layer = (q, k, v) => scaledDotProductAttention(q!, k!, v!, { isCausal: row.causal ?? false });
  }
  inputs.forEach((t) => t.requireGrad());
  const gradOut = randn(row.layer === 'layer-norm' ? [batch, seq, dim] : [batch, row.heads!, seq, dim / row.heads!], { seed: 9, dtype });
  return {
    run: () => {
      const y = layer(...inputs);
      const grads = gradients([y], inputs, { gradOutputs: [gradOut] });
      read(y);
      grads.forEach(read);
    },
    dispose: () => {},
  };
}

const eagerBuilders: Builders = {
  matmul: (row) => {
    requireThreads(row);
    const backend = getBackend().name;
    if (row.dtype === 'float64' && backend === 'gpu') throw new RowUnavailable('the gpu backend runs float64 on the pure-TypeScript kernels');
    const type = row.dtype ?? dtype;
    // Aᵀ·B multiplies a transposed view of a [k, m] tensor, as a backward pass does.
    const a = row.transposeA ? randn([row.k, row.m], { seed: 1, dtype: type }).permute([1, 0]) : randn([row.m, row.k], { seed: 1, dtype: type });
    const b = randn([row.k, row.n], { seed: 2, dtype: type });
    const repeat = row.repeat ?? 1;
    return {
      run: () => {
        for (let i = 1; i < repeat; i++) matmul(a, b);
        read(matmul(a, b));
      },
      dispose: () => {},
    };
  },
  conv: (row) => {
    const out = convOutSize(row);
    const x = randn([row.batch, row.inChannels, row.size, row.size], { seed: 1, dtype }).requireGrad();
    const w = weight([row.outChannels, row.inChannels, row.kernel, row.kernel], row.inChannels * row.kernel * row.kernel, 2).requireGrad();
    const gradOut = randn([row.batch, row.outChannels, out, out], { seed: 3, dtype });
    return {
      run: () => {
        const y = conv2d(x, w, { padding: row.padding });
        const [dx, dw] = gradients([y], [x, w], { gradOutputs: [gradOut] });
        read(y);
        read(dx!);
        read(dw!);
      },
      dispose: () => {},
    };
  },
  'train-mlp': trainMlp,
  'train-lenet': trainLenet,
  grad: gradRow,
  'train-zoo': trainZooRow,
  'per-sample': perSampleRow,
  hvp: hvpRow,
  'vmap-grad': vmapGradRow,
  forward: forwardRow,
  jvp: jvpRow,
  'hvp-fwd': hvpFwdRow,
  'transformer-layer': transformerLayerRow,
};

/**
 * Every gradscope run inside tidy, as every tfjs run is inside tf.tidy: what a run creates and
 * does not keep gives its memory to the next run (src/tensor/tidy.ts), instead of becoming
 * garbage. Parameters, BatchNorm's running statistics and workspaces live outside the scope.
 */
export const gradscopeBuilders = Object.fromEntries(
  Object.entries(eagerBuilders).map(([kind, build]) => [
    kind,
    (row: ImplRow) => {
      const runnable = (build as (row: ImplRow) => Runnable)(row);
      return { run: () => tidy(() => runnable.run()), dispose: () => runnable.dispose() };
    },
  ]),
) as Builders;
