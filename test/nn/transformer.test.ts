/**
 * The Transformer encoder block and the zoo's tiny Transformer: PyTorch's parameter names and
 * order, the pre-norm and post-norm formulas against a composition written out here, float64
 * finite differences through the block with masks, vmap against the batched call, and native
 * per-sample gradients of the tiny Transformer (they sum to the batch gradient, and each row
 * is the gradient of a batch of one). The block's PyTorch values (and its HVP) are oracle cases
 * (test/nn/attention.test.ts).
 */
import { describe, expect, it } from 'vitest';
import {
  LayerNorm,
  Linear,
  Module,
  MultiheadAttention,
  ShapeError,
  TinyTransformer,
  TransformerEncoderLayer,
  ValueError,
  crossEntropy,
  gelu,
  gradients,
  perSampleGrads,
  summary,
  tensor,
  tinyTransformer,
  vmap,
  type Tensor,
} from '../../src/index.js';
import { mulberry32 } from '../arbitraries.js';
import { expectAllClose, gradcheck, randomTensor } from '../gradcheck.js';

const values = (t: Tensor) => Array.from(t.toTypedArray());
const PYTORCH_BLOCK_NAMES = [
  'self_attn.in_proj_weight',
  'self_attn.in_proj_bias',
  'self_attn.out_proj.weight',
  'self_attn.out_proj.bias',
  'linear1.weight',
  'linear1.bias',
  'linear2.weight',
  'linear2.bias',
  'norm1.weight',
  'norm1.bias',
  'norm2.weight',
  'norm2.bias',
];

describe('TransformerEncoderLayer', () => {
  const rng = mulberry32(31);

  it("has nn.TransformerEncoderLayer's parameter names, order and shapes", () => {
    const block = new TransformerEncoderLayer(8, 2, { seed: 1, dimFeedforward: 16 });
    expect(block.namedParameters().map(([n]) => n)).toEqual(PYTORCH_BLOCK_NAMES);
    expect(block.namedParameters().map(([, p]) => p.shape)).toEqual([[24, 8], [24], [8, 8], [8], [16, 8], [16], [8, 16], [8], [8], [8], [8], [8]]);
    expect(new TransformerEncoderLayer(8, 2, { seed: 1 }).dimFeedforward).toBe(2048);
  });

  it('computes the pre-norm and the post-norm block as written out from its sublayers', () => {
    const x = randomTensor([2, 5, 6], rng);
    for (const normFirst of [true, false]) {
      const block = new TransformerEncoderLayer(6, 3, { seed: 4, dtype: 'float64', dimFeedforward: 7, normFirst, activation: 'gelu', layerNormEps: 1e-3 });
      // Non-trivial LayerNorm parameters, so that norm1 and norm2 cannot be confused.
      block.assignParameters(block.parameters().map((p) => randomTensor(p.shape, rng)));
      const [sa, l1, l2, n1, n2] = [block.selfAttn, block.linear1, block.linear2, block.norm1, block.norm2] as [MultiheadAttention, Linear, Linear, LayerNorm, LayerNorm];
      const mha = (h: Tensor) => sa.attend(h, h, h, { isCausal: true }).output;
      const ff = (h: Tensor) => l2.forward(gelu(l1.forward(h)));
      let expected: Tensor;
      if (normFirst) {
        const x1 = x.add(mha(n1.forward(x)));
        expected = x1.add(ff(n2.forward(x1)));
      } else {
        const x1 = n1.forward(x.add(mha(x)));
        expected = n2.forward(x1.add(ff(x1)));
      }
      expectAllClose(block.encode(x, { isCausal: true }), values(expected), { rtol: 1e-14, atol: 1e-14, shape: [2, 5, 6], what: normFirst ? 'pre-norm' : 'post-norm' });
      expect(n1.eps).toBe(1e-3);
    }
  });

  it('takes relu (the default), gelu or a function as its activation', () => {
    const x = randomTensor([1, 3, 4], rng);
    const relu = new TransformerEncoderLayer(4, 2, { seed: 9, dtype: 'float64', dimFeedforward: 5 });
    const fn = new TransformerEncoderLayer(4, 2, { seed: 9, dtype: 'float64', dimFeedforward: 5, activation: (h) => h.relu() });
    expect(values(relu.forward(x))).toEqual(values(fn.forward(x)));
    const geluBlock = new TransformerEncoderLayer(4, 2, { seed: 9, dtype: 'float64', dimFeedforward: 5, activation: 'gelu' });
    expect(values(geluBlock.forward(x))).not.toEqual(values(relu.forward(x)));
  });

  it('has float64 gradients in x through both norms, the attention (causal, key padding) and the FFN', () => {
    const block = new TransformerEncoderLayer(4, 2, { seed: 3, dtype: 'float64', dimFeedforward: 6, normFirst: true, activation: 'gelu' });
    const padding = tensor(Int32Array.from([0, 0, 1, 0, 0, 0]), { shape: [2, 3], dtype: 'int32' });
    const f = (x: Tensor) => block.encode(x, { srcKeyPaddingMask: padding, isCausal: true });
    gradcheck(f, [randomTensor([2, 3, 4], rng)], { name: 'TransformerEncoderLayer', argNames: ['x'], samples: 8 });
  });

  it('under vmap over the samples equals the batched block', () => {
    const block = new TransformerEncoderLayer(6, 2, { seed: 8, dtype: 'float64', dimFeedforward: 8, normFirst: true, activation: 'gelu' });
    const x = randomTensor([3, 4, 6], rng);
    expectAllClose(vmap((xi: Tensor) => block.forward(xi))(x), values(block.forward(x)), { rtol: 1e-13, atol: 1e-14, shape: [3, 4, 6] });
  });

  it('names the problem: heads that do not divide dModel, an unknown activation, the input shape', () => {
    expect(() => new TransformerEncoderLayer(6, 4, { seed: 0 })).toThrow(/TransformerEncoderLayer: dModel \(6\) must be divisible by nhead \(4\)/);
    expect(() => new TransformerEncoderLayer(4, 2, { seed: 0, activation: 'swish' as never })).toThrow(/expected activation to be 'relu', 'gelu' or a function/);
    expect(() => new TransformerEncoderLayer(4, 2, {} as never)).toThrow(/needs \{ seed \}/);
    const block = new TransformerEncoderLayer(4, 2, { seed: 0, dimFeedforward: 4 });
    expect(() => block.forward(randomTensor([2, 3, 5], rng).to('float32'))).toThrow(ShapeError);
    expect(() => block.forward(randomTensor([2, 3, 5], rng).to('float32'))).toThrow(/expected input \[B, L, 4\] \(or \[L, 4\]\); got \[2,3,5\]/);
  });
});

describe('the tiny Transformer (zoo)', () => {
  const rng = mulberry32(41);
  const small = { inputDim: 5, seqLen: 6, dModel: 8, numHeads: 2, numLayers: 2, dimFeedforward: 12, classes: 3 } as const;

  it('reads MNIST images row by row: names, default size, output shape', () => {
    const model = tinyTransformer({ seed: 0 });
    const names = model.namedParameters().map(([n]) => n);
    expect(names.slice(0, 4)).toEqual(['pos_embedding', 'embed.weight', 'embed.bias', 'layers.0.self_attn.in_proj_weight']);
    expect(names.filter((n) => n.startsWith('layers.1.'))).toEqual(PYTORCH_BLOCK_NAMES.map((n) => `layers.1.${n}`));
    expect(names.slice(-4)).toEqual(['norm.weight', 'norm.bias', 'head.weight', 'head.bias']);
    // 28·32 (positions) + 28·32+32 (embed) + 2 blocks · (4·32·32+4·32 + 2·32·64+64+32 + 4·32) + 64 + 330 (head).
    expect(model.numParameters()).toBe(896 + 928 + 2 * (4224 + 4192 + 128) + 64 + 330);
    const images = randomTensor([2, 1, 28, 28], rng).to('float32');
    const logits = model.forward(images);
    expect(logits.shape).toEqual([2, 10]);
    expect(values(model.forward(images.reshape([2, 28, 28])))).toEqual(values(logits));
    expect(summary(model)).toMatch(/layers\.1\.norm2 +LayerNorm\(\[32\]\)[\s\S]*19,306 parameters/);
  });

  it('is reproducible from its seed, and each sublayer gets its own draw', () => {
    const a = new TinyTransformer({ seed: 5, ...small });
    const b = new TinyTransformer({ seed: 5, ...small });
    const c = new TinyTransformer({ seed: 6, ...small });
    expect(a.parameters().map(values)).toEqual(b.parameters().map(values));
    expect(values(a.parameters()[1]!)).not.toEqual(values(c.parameters()[1]!));
    const w = a.namedParameters().filter(([n]) => n.endsWith('in_proj_weight')).map(([, p]) => values(p).slice(0, 5));
    expect(w[0]).not.toEqual(w[1]);
  });

  it('per-sample gradients (native, one backward) sum to the batch gradient and are batch-of-one gradients', () => {
    const model = new TinyTransformer({ seed: 3, dtype: 'float64', ...small });
    const x = randomTensor([4, 1, 6, 5], rng);
    const targets = [0, 2, 1, 2];
    const { grads, losses } = perSampleGrads(model, { x, targets });
    const batch = gradients([crossEntropy(model.forward(x), targets, 'sum')], model.parameters());
    model.namedParameters().forEach(([name, p], k) => {
      expect(grads!.get(name)!.shape).toEqual([4, ...p.shape]);
      expectAllClose(grads!.get(name)!.sum(0), values(batch[k]!), { rtol: 1e-10, atol: 1e-13, what: name });
    });
    const one = gradients([crossEntropy(model.forward(x.slice([[2, 3]])), [targets[2]!])], model.parameters());
    model.namedParameters().forEach(([name], k) => expectAllClose(grads!.get(name)!.slice([[2, 3]]).squeeze(0), values(one[k]!), { rtol: 1e-10, atol: 1e-13, what: `${name}, sample 2` }));
    expectAllClose(losses, values(crossEntropy(model.forward(x), targets, 'none')), { rtol: 1e-14, atol: 1e-15 });
  });

  it('per-sample gradients go through slices of a parameter: cross-attention (in_proj_weight cut in three) and a shortened positional embedding', () => {
    // The first token of each sample attends to all of that sample's tokens: query ≠ key.
    class Cross extends Module {
      readonly attention = this.registerModule('attention', new MultiheadAttention(4, 2, { seed: 1, dtype: 'float64' }));
      forward(x: Tensor): Tensor {
        return this.attention.attend(x.slice([null, [0, 1]]), x, x).output.mean(1);
      }
    }
    const check = (model: Module, x: Tensor, targets: number[]) => {
      const { grads } = perSampleGrads(model, { x, targets });
      const batch = gradients([crossEntropy(model.forward(x), targets, 'sum')], model.parameters());
      model.namedParameters().forEach(([name, p], k) => {
        expect(grads!.get(name)!.shape).toEqual([x.shape[0], ...p.shape]);
        expectAllClose(grads!.get(name)!.sum(0), values(batch[k]!), { rtol: 1e-10, atol: 1e-13, what: name });
      });
      // Row 1 is the gradient of sample 1 alone.
      const one = gradients([crossEntropy(model.forward(x.slice([[1, 2]])), [targets[1]!])], model.parameters());
      model.namedParameters().forEach(([name], k) =>
        expectAllClose(grads!.get(name)!.slice([[1, 2]]).squeeze(0), values(one[k]!), { rtol: 1e-10, atol: 1e-13, what: `${name}, sample 1` }),
      );
    };
    check(new Cross(), randomTensor([3, 2, 4], rng), [0, 1, 2]);
    // A sequence of 4 tokens uses 4 of the positional embedding's rows: the others get zeros.
    const model = new TinyTransformer({ seed: 3, dtype: 'float64', ...small });
    check(model, randomTensor([2, 4, 5], rng), [0, 1]);
    const { grads } = perSampleGrads(model, { x: randomTensor([2, 4, 5], rng), targets: [0, 1] });
    const pos = grads!.get('pos_embedding')!;
    expect(values(pos.slice([null, [4, null]])).every((v) => v === 0)).toBe(true);
  });

  it('has float64 gradients in its parameters (the whole model, through withParameters)', () => {
    const model = new TinyTransformer({ seed: 2, dtype: 'float64', ...small, numLayers: 1 });
    const x = randomTensor([2, 6, 5], rng);
    const flat = model.flattenParameters();
    const f = (w: Tensor) => model.callWithVector(w, () => model.forward(x));
    gradcheck(f, [flat], { name: 'TinyTransformer', argNames: ['parameters'], samples: 12 });
  });

  it('learns: a few SGD steps lower the loss of a small batch', () => {
    const model = new TinyTransformer({ seed: 1, dtype: 'float64', ...small });
    const x = randomTensor([8, 6, 5], rng);
    const targets = [0, 1, 2, 0, 1, 2, 0, 1];
    const loss = () => crossEntropy(model.forward(x), targets);
    const first = loss().item();
    for (let step = 0; step < 20; step++) {
      const g = gradients([loss()], model.parameters());
      model.assignParameters(model.parameters().map((p, k) => p.detach().sub(g[k]!.mul(0.1))));
    }
    expect(loss().item()).toBeLessThan(0.8 * first);
  });

  it('takes shorter sequences and refuses inputs of the wrong shape', () => {
    const model = new TinyTransformer({ seed: 0, dtype: 'float64', ...small });
    expect(model.forward(randomTensor([2, 4, 5], rng)).shape).toEqual([2, 3]);
    expect(() => model.forward(randomTensor([2, 7, 5], rng))).toThrow(/expected input \[B, L, 5\] or \[B, 1, L, 5\] with L ≤ 6; got \[2,7,5\]/);
    expect(() => model.forward(randomTensor([2, 6, 4], rng))).toThrow(ShapeError);
    expect(() => new TinyTransformer({ seed: 0, dModel: 6, numHeads: 4 })).toThrow(/dModel \(6\) must be divisible by numHeads \(4\)/);
    expect(() => tinyTransformer({ seed: -1 })).toThrow(ValueError);
  });
});
