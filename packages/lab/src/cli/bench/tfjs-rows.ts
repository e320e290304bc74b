/**
 * The same rows written with TensorFlow.js, as a tfjs user would: tf.matMul, tf.conv2d with
 * tf.valueAndGrads, variables with optimizer.minimize, tf.variableGrads for the batch-gradient
 * rows (tfjs has no per-sample gradients, vmap or forward-mode jvp: those rows throw
 * RowUnavailable, and so does the forward row that is only jvp's baseline). Layout NHWC (tfjs's
 * native one; the work is the same). Every run is wrapped in tf.tidy so memory does not grow,
 * and reads its results with dataSync() inside the timed region.
 */
import type * as TF from '@tensorflow/tfjs';
import { lenet5, mlpLayers } from './models.js';
import { convOutSize, type GradRow, type TrainLenetRow, type TrainMlpRow, type TransformerLayerRow } from './rows.js';
import { RowUnavailable, type Builders, type Runnable } from './runnable.js';
import { consume } from './timing.js';

export type Tfjs = typeof TF;

const LEARNING_RATE = 0.01;

/** Why a -2t model row is not run again: its one-thread row is the same work on the same thread. */
const ONE_THREAD = 'one thread only (its threaded wasm build does not start in Node); see the one-thread row';

/** One-hot float targets for the same fixed labels as the gradscope rows. */
function targets(tf: Tfjs, batch: number, classes: number): TF.Tensor2D {
  const labels = Int32Array.from({ length: batch }, (_, i) => (i * 7) % classes);
  return tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), classes).toFloat() as TF.Tensor2D);
}

/** A variable from an initial value; tidy frees the initial tensor (the variable keeps the data). */
function variable(tf: Tfjs, initial: () => TF.Tensor): TF.Variable {
  return tf.tidy(() => tf.variable(initial()));
}

/** He-style init (std √(2/fan_in)), as in the gradscope rows. */
function weight(tf: Tfjs, shape: number[], fanIn: number, seed: number): TF.Variable {
  return variable(tf, () => tf.randomNormal(shape, 0, Math.sqrt(2 / fanIn), 'float32', seed));
}

/** One SGD step with optimizer.minimize; the loss is read back. */
function sgdStep(tf: Tfjs, variables: TF.Variable[], data: TF.Tensor[], loss: () => TF.Scalar): Runnable {
  const optimizer = tf.train.sgd(LEARNING_RATE);
  return {
    run: () =>
      tf.tidy(() => {
        const cost = optimizer.minimize(loss, true, variables);
        consume(cost!.dataSync());
      }),
    dispose: () => {
      optimizer.dispose();
      tf.dispose([...variables, ...data]);
    },
  };
}

/** [W, b] for each dense layer, flattened into one list. */
function denseParams(tf: Tfjs, widths: readonly number[], seed: number): TF.Variable[] {
  return mlpLayers(widths).flatMap((l, i) => [weight(tf, [l.inputs, l.outputs], l.inputs, seed + i), variable(tf, () => tf.zeros([l.outputs]))]);
}

function denseForward(tf: Tfjs, h: TF.Tensor2D, params: readonly TF.Variable[]): TF.Tensor2D {
  const layers = params.length / 2;
  for (let i = 0; i < layers; i++) {
    h = tf.add(tf.matMul(h, params[2 * i] as TF.Tensor2D), params[2 * i + 1]!);
    if (i < layers - 1) h = tf.relu(h);
  }
  return h;
}

function trainMlp(tf: Tfjs, row: TrainMlpRow): Runnable {
  const x = tf.randomNormal([row.batch, row.widths[0]!], 0, 1, 'float32', 1) as TF.Tensor2D;
  const y = targets(tf, row.batch, row.widths.at(-1)!);
  const params = denseParams(tf, row.widths, 10);
  return sgdStep(tf, params, [x, y], () => tf.losses.softmaxCrossEntropy(y, denseForward(tf, x, params)) as TF.Scalar);
}

function trainLenet(tf: Tfjs, row: TrainLenetRow): Runnable {
  const net = lenet5();
  const x = tf.randomNormal([row.batch, net.image, net.image, 1], 0, 1, 'float32', 1) as TF.Tensor4D;
  const y = targets(tf, row.batch, net.dense.at(-1)!.outputs);
  const convParams = net.convs.flatMap((c, i) => [
    weight(tf, [c.kernel, c.kernel, c.inChannels, c.outChannels], c.inChannels * c.kernel * c.kernel, 20 + i),
    variable(tf, () => tf.zeros([c.outChannels])),
  ]);
  const denseVars = denseParams(tf, [net.flat, ...net.dense.map((l) => l.outputs)], 30);
  return sgdStep(tf, [...convParams, ...denseVars], [x, y], () => {
    let h: TF.Tensor4D = x;
    net.convs.forEach((c, i) => {
      const [w, b] = [convParams[2 * i] as TF.Tensor4D, convParams[2 * i + 1]!];
      h = tf.relu(tf.add(tf.conv2d(h, w, 1, 'valid'), b)) as TF.Tensor4D;
      h = tf.maxPool(h, c.pool, c.pool, 'valid');
    });
    const flat = tf.reshape(h, [row.batch, net.flat]) as TF.Tensor2D;
    return tf.losses.softmaxCrossEntropy(y, denseForward(tf, flat, denseVars)) as TF.Scalar;
  });
}

/** One batch gradient with tf.variableGrads (no update); the loss and every gradient read back. */
function gradStep(tf: Tfjs, variables: TF.Variable[], data: TF.Tensor[], loss: () => TF.Scalar): Runnable {
  return {
    run: () =>
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(loss, variables);
        consume(value.dataSync());
        for (const v of variables) consume(grads[v.name]!.dataSync());
      }),
    dispose: () => tf.dispose([...variables, ...data]),
  };
}

/**
 * BatchNorm in eval mode over the last axis (NHWC channels, or dense features): learnable γ
 * and β, running statistics 0 and 1, ε = 1e-5 — the zoo's BatchNorm1d/2d after `.eval()`.
 */
function evalBatchNorm(tf: Tfjs, channels: number) {
  const gamma = variable(tf, () => tf.ones([channels]));
  const beta = variable(tf, () => tf.zeros([channels]));
  const mean = tf.zeros([channels]) as TF.Tensor1D;
  const variance = tf.ones([channels]) as TF.Tensor1D;
  return {
    variables: [gamma, beta],
    constants: [mean, variance],
    apply: <T extends TF.Tensor>(h: T): T => tf.batchNorm(h, mean, variance, beta as TF.Tensor1D, gamma as TF.Tensor1D, 1e-5) as T,
  };
}

/** The zoo MLP (no BatchNorm) or LeNet-5 with BatchNorm in eval mode, one batch gradient. */
function gradRow(tf: Tfjs, row: GradRow): Runnable {
  if (row.model.name === 'mlp') {
    const widths = row.model.widths;
    const x = tf.randomNormal([row.batch, widths[0]!], 0, 1, 'float32', 1) as TF.Tensor2D;
    const y = targets(tf, row.batch, widths.at(-1)!);
    const params = denseParams(tf, widths, 10);
    return gradStep(tf, params, [x, y], () => tf.losses.softmaxCrossEntropy(y, denseForward(tf, x, params)) as TF.Scalar);
  }
  const net = lenet5();
  const x = tf.randomNormal([row.batch, net.image, net.image, 1], 0, 1, 'float32', 1) as TF.Tensor4D;
  const y = targets(tf, row.batch, net.dense.at(-1)!.outputs);
  const convs = net.convs.map((c, i) => ({
    w: weight(tf, [c.kernel, c.kernel, c.inChannels, c.outChannels], c.inChannels * c.kernel * c.kernel, 20 + i),
    b: variable(tf, () => tf.zeros([c.outChannels])),
    bn: evalBatchNorm(tf, c.outChannels),
  }));
  const dense = net.dense.map((l, i) => ({
    w: weight(tf, [l.inputs, l.outputs], l.inputs, 30 + i),
    b: variable(tf, () => tf.zeros([l.outputs])),
    bn: i < net.dense.length - 1 ? evalBatchNorm(tf, l.outputs) : null,
  }));
  const layers = [...convs, ...dense];
  const variables = layers.flatMap((l) => [l.w, l.b, ...(l.bn?.variables ?? [])]);
  const constants = layers.flatMap((l) => l.bn?.constants ?? []);
  return gradStep(tf, variables, [x, y, ...constants], () => {
    let h: TF.Tensor4D = x;
    net.convs.forEach((c, i) => {
      const { w, b, bn } = convs[i]!;
      h = tf.relu(bn.apply(tf.add(tf.conv2d(h, w as TF.Tensor4D, 1, 'valid'), b))) as TF.Tensor4D;
      h = tf.maxPool(h, c.pool, c.pool, 'valid');
    });
    let f = tf.reshape(h, [row.batch, net.flat]) as TF.Tensor2D;
    for (const { w, b, bn } of dense) {
      f = tf.add(tf.matMul(f, w as TF.Tensor2D), b);
      if (bn) f = tf.relu(bn.apply(f));
    }
    return tf.losses.softmaxCrossEntropy(y, f) as TF.Scalar;
  });
}

/**
 * A Transformer layer as a tfjs user writes it (tfjs has neither a LayerNorm op nor attention):
 * LayerNorm from tf.moments and tf.rsqrt; attention from batched tf.matMul (kᵀ by transposeB)
 * and tf.softmax, the causal mask added as a constant of 0 and −∞. Forward and the gradient of
 * every input for a fixed output gradient (tf.valueAndGrads), read back.
 */
function transformerLayer(tf: Tfjs, row: TransformerLayerRow): Runnable {
  const { batch, seq, dim } = row;
  const heads = row.heads ?? 1;
  const layerNorm = row.layer === 'layer-norm';
  const shape = layerNorm ? [batch, seq, dim] : [batch, heads, seq, dim / heads];
  const inputs = layerNorm
    ? [tf.randomNormal(shape, 0, 1, 'float32', 1), tf.randomNormal([dim], 1, 0.1, 'float32', 2), tf.randomNormal([dim], 0, 0.1, 'float32', 3)]
    : [1, 2, 3].map((seed) => tf.randomNormal(shape, 0, 1, 'float32', seed));
  const gradOut = tf.randomNormal(shape, 0, 1, 'float32', 9);
  const mask = row.causal ? tf.tensor2d(Float32Array.from({ length: seq * seq }, (_, n) => (n % seq > Math.floor(n / seq) ? -Infinity : 0)), [seq, seq]) : null;
  const scale = 1 / Math.sqrt(dim / heads);
  const f = layerNorm
    ? (x: TF.Tensor, w: TF.Tensor, b: TF.Tensor) => {
        const { mean, variance } = tf.moments(x, -1, true);
        return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5))), w), b);
      }
    : (q: TF.Tensor, k: TF.Tensor, v: TF.Tensor) => {
        let scores = tf.mul(tf.matMul(q as TF.Tensor4D, k as TF.Tensor4D, false, true), scale);
        if (mask) scores = tf.add(scores, mask);
        return tf.matMul(tf.softmax(scores), v as TF.Tensor4D);
      };
  const forwardAndBackward = tf.valueAndGrads(f as (...args: TF.Tensor[]) => TF.Tensor);
  return {
    run: () =>
      tf.tidy(() => {
        const { value, grads } = forwardAndBackward(inputs, gradOut);
        consume(value.dataSync());
        for (const g of grads) consume(g.dataSync());
      }),
    dispose: () => tf.dispose([...inputs, gradOut, ...(mask ? [mask] : [])]),
  };
}

export function tfjsBuilders(tf: Tfjs): Builders {
  return {
    matmul: (row) => {
      if (row.dtype === 'float64') throw new RowUnavailable('no float64');
      // Aᵀ·B: A stored [k, m], multiplied with transposeA (tfjs's own way to say it).
      const transposeA = row.transposeA ?? false;
      const a = tf.randomNormal(transposeA ? [row.k, row.m] : [row.m, row.k], 0, 1, 'float32', 1) as TF.Tensor2D;
      const b = tf.randomNormal([row.k, row.n], 0, 1, 'float32', 2) as TF.Tensor2D;
      const repeat = row.repeat ?? 1;
      return {
        run: () =>
          tf.tidy(() => {
            for (let i = 1; i < repeat; i++) tf.matMul(a, b, transposeA).dataSync();
            consume(tf.matMul(a, b, transposeA).dataSync());
          }),
        dispose: () => tf.dispose([a, b]),
      };
    },
    conv: (row) => {
      const out = convOutSize(row);
      const x = tf.randomNormal([row.batch, row.size, row.size, row.inChannels], 0, 1, 'float32', 1) as TF.Tensor4D;
      const fanIn = row.inChannels * row.kernel * row.kernel;
      const w = tf.randomNormal([row.kernel, row.kernel, row.inChannels, row.outChannels], 0, Math.sqrt(2 / fanIn), 'float32', 2) as TF.Tensor4D;
      const gradOut = tf.randomNormal([row.batch, out, out, row.outChannels], 0, 1, 'float32', 3) as TF.Tensor4D;
      const forwardAndBackward = tf.valueAndGrads((x: TF.Tensor, w: TF.Tensor) => tf.conv2d(x as TF.Tensor4D, w as TF.Tensor4D, 1, row.padding));
      return {
        run: () =>
          tf.tidy(() => {
            const { value, grads } = forwardAndBackward([x, w], gradOut);
            consume(value.dataSync());
            consume(grads[0]!.dataSync());
            consume(grads[1]!.dataSync());
          }),
        dispose: () => tf.dispose([x, w, gradOut]),
      };
    },
    'train-mlp': (row) => trainMlp(tf, row),
    'train-lenet': (row) => trainLenet(tf, row),
    grad: (row) => {
      if (row.dtype === 'float64') throw new RowUnavailable('no float64');
      if ((row.threads ?? 1) > 1) throw new RowUnavailable(ONE_THREAD);
      return gradRow(tf, row);
    },
    'train-zoo': () => {
      // tfjs-wasm has no Conv2DBackpropFilter; tfjs-cpu takes ≈ 10 s a LeNet-5 step, and
      // train-lenet already compares it.
      throw new RowUnavailable('not measured (train-lenet and grad-lenet compare LeNet-5 with tfjs)');
    },
    hvp: () => {
      throw new RowUnavailable('not measured (gradscope-only row)');
    },
    'per-sample': () => {
      throw new RowUnavailable('no per-sample gradients');
    },
    'vmap-grad': () => {
      throw new RowUnavailable('no vmap');
    },
    forward: () => {
      throw new RowUnavailable('not measured (baseline of a gradscope-only row)');
    },
    jvp: () => {
      throw new RowUnavailable('no forward-mode jvp');
    },
    'hvp-fwd': () => {
      throw new RowUnavailable('no forward-mode jvp');
    },
    'transformer-layer': (row) => transformerLayer(tf, row),
  };
}
