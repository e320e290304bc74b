/**
 * The CIFAR-10 models of Defazio & Bottou 2019 (§3) that the zoo's 28×28 models do not cover, for
 * the presets' paper-size configurations:
 *   - LeNet-5 for 3×32×32 inputs, "modified to use batch-norm and ReLUs, with approximately 62
 *     thousand parameters" (the zoo's lenet5 is the same network for 1×28×28 MNIST);
 *   - ResNet-110 for CIFAR-10 (He et al. 2016, §4.2: a 3×3 stem of 16 planes, then three stages of
 *     18 basic blocks with 16, 32 and 64 planes, stride 2 between stages, global average pooling,
 *     one linear layer; ≈ 1.7 M parameters, the paper's "ResNet-110 model with 1.7m parameters").
 * Like the zoo, layer k is initialised from seed·1009 + k, so two models with the same seed are
 * identical.
 */
import {
  BatchNorm1d,
  BatchNorm2d,
  Conv2d,
  Flatten,
  GlobalAvgPool2d,
  Linear,
  MaxPool2d,
  type Module,
  ReLU,
  Residual,
  Sequential,
} from 'gradscope';

/** Hands out the per-layer seeds of one model (the zoo's convention: seed·1009 + k). */
function layerSeeds(seed: number): () => number {
  if (!(Number.isSafeInteger(seed) && seed >= 0 && seed * 1009 + 1000 < 2 ** 53)) {
    throw new RangeError(`cifar-models: a model needs a seed, an integer ≥ 0 below 2^53 / 1009; got ${seed}`);
  }
  let k = 0;
  return () => seed * 1009 + k++;
}

/**
 * LeNet-5 with BatchNorm and ReLU for 3×32×32 inputs (float32): conv 6@5×5 → BN → ReLU → maxpool 2
 * → conv 16@5×5 → BN → ReLU → maxpool 2 → flatten (400) → fc 120 → BN → ReLU → fc 84 → BN → ReLU
 * → fc 10; 62,006 weights and biases plus the BatchNorm affine parameters.
 */
export function lenet5Cifar(seed: number): Sequential {
  const next = layerSeeds(seed);
  return new Sequential(
    new Conv2d(3, 6, 5, { seed: next() }),
    new BatchNorm2d(6),
    new ReLU(),
    new MaxPool2d(2),
    new Conv2d(6, 16, 5, { seed: next() }),
    new BatchNorm2d(16),
    new ReLU(),
    new MaxPool2d(2),
    new Flatten(),
    new Linear(400, 120, { seed: next() }),
    new BatchNorm1d(120),
    new ReLU(),
    new Linear(120, 84, { seed: next() }),
    new BatchNorm1d(84),
    new ReLU(),
    new Linear(84, 10, { seed: next() }),
  );
}

/**
 * A basic residual block: conv3-BN-ReLU-conv3-BN plus the shortcut. Where the shape changes the
 * shortcut is a 1×1 convolution with BatchNorm (He et al.'s option B; their CIFAR networks pad the
 * identity with zeros instead, option A, which has no parameters — a difference of 2,816 weights).
 */
function basicBlock(cin: number, cout: number, stride: number, next: () => number): Module {
  const body = new Sequential(
    new Conv2d(cin, cout, 3, { seed: next(), stride, padding: 1, bias: false }),
    new BatchNorm2d(cout),
    new ReLU(),
    new Conv2d(cout, cout, 3, { seed: next(), padding: 1, bias: false }),
    new BatchNorm2d(cout),
  );
  const projection =
    stride !== 1 || cin !== cout
      ? new Sequential(new Conv2d(cin, cout, 1, { seed: next(), stride, bias: false }), new BatchNorm2d(cout))
      : null;
  return new Sequential(new Residual(body, projection), new ReLU());
}

/**
 * The CIFAR ResNet of depth 6·blocks + 2 (He et al. 2016, §4.2) for 3×32×32 inputs, float32:
 * blocks = 18 is ResNet-110 (1.73 M parameters).
 */
export function cifarResnet(seed: number, blocks = 18): Sequential {
  if (!(Number.isInteger(blocks) && blocks >= 1)) {
    throw new RangeError(`cifarResnet: blocks (per stage) must be an integer ≥ 1; got ${blocks}`);
  }
  const next = layerSeeds(seed);
  const stem = new Conv2d(3, 16, 3, { seed: next(), padding: 1, bias: false });
  const layers: Module[] = [stem, new BatchNorm2d(16), new ReLU()];
  let planes = 16;
  for (const [stage, width] of [16, 32, 64].entries()) {
    for (let k = 0; k < blocks; k++) {
      layers.push(basicBlock(planes, width, stage > 0 && k === 0 ? 2 : 1, next));
      planes = width;
    }
  }
  return new Sequential(...layers, new GlobalAvgPool2d(), new Linear(64, 10, { seed: next() }));
}
