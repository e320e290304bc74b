/**
 * The shared parity catalogue for the compute-bound kernels — matmul, conv2d (with both
 * backward convolutions), maxPool2d, avgPool2d (with its backward) — that every backend must
 * pass against the CPU backend in float64 (docs/design.md §5).
 *
 * Cases are chosen to break index arithmetic: odd and prime sizes, batch 1, groups,
 * depthwise, stride (also larger than the kernel), dilation, padding (also larger than the
 * kernel), 1×1 and whole-input kernels, and operands that are not contiguous — transposed
 * and permuted (channels-last) views, views at an offset, and broadcast (stride-0) batches
 * and gradients, as autograd produces them.
 *
 * Values are float32-exact (Math.fround), so the float32 and float64 runs of a case see the
 * same numbers and differ only by the arithmetic; cells of storage that a view must never read
 * (before its offset) hold NaN, so a wrong read shows up.
 */
import type { Backend } from '../../src/kernels/backend.js';
import {
  conv2dOutputShape,
  poolOutputShape,
  type AvgPoolGeometry,
  type Conv2dGeometry,
  type PoolGeometry,
} from '../../src/kernels/geometry.js';
import type { FloatDType, TypedArray } from '../../src/tensor/dtype.js';
import type { View } from '../../src/tensor/storage.js';
import { avgPool2d, conv2d, maxPool2d, randn, valueAndGrad, type Tensor } from '../../src/index.js';
import { mulberry32 } from '../arbitraries.js';

/** How an operand of logical shape `shape` sits in memory. */
export interface OperandSpec {
  shape: number[];
  /**
   * Storage order of the axes (of `expandFrom` if given): the operand is the view
   * `storage.permute(inverse)`; e.g. [0, 2, 3, 1] stores NCHW as channels-last, [1, 0] is a
   * transposed matrix.
   */
  order?: number[];
  /** Stored with this smaller shape and broadcast (stride 0) to `shape`, as `expand` does. */
  expandFrom?: number[];
  /** Unused (NaN) cells before the first element. */
  offset?: number;
  /** Values: uniform in [−1, 1) (default), or from {−1, −½, 0, ½, 1} to force ties. */
  values?: 'uniform' | 'ties';
  /** Storage positions (row-major over the stored values) replaced by NaN. */
  nans?: number[];
}

export type ParityCase =
  | { kind: 'matmul'; name: string; a: OperandSpec; b: OperandSpec }
  | { kind: 'conv2d'; name: string; x: OperandSpec; w: OperandSpec; geometry: Conv2dGeometry; gy?: Omit<OperandSpec, 'shape'> }
  | { kind: 'maxPool2d'; name: string; x: OperandSpec; geometry: PoolGeometry; nanOrdering?: boolean }
  | { kind: 'avgPool2d'; name: string; x: OperandSpec; geometry: AvgPoolGeometry; gy?: Omit<OperandSpec, 'shape'> };

const conv = (stride: [number, number], padding: [number, number], dilation: [number, number] = [1, 1], groups = 1): Conv2dGeometry => ({
  stride,
  padding,
  dilation,
  groups,
});
const pool = (kernel: [number, number], stride: [number, number], padding: [number, number] = [0, 0], dilation: [number, number] = [1, 1]): PoolGeometry => ({
  kernel,
  stride,
  padding,
  dilation,
});
const avg = (kernel: [number, number], stride: [number, number], padding: [number, number], countIncludePad: boolean): AvgPoolGeometry => ({
  ...pool(kernel, stride, padding),
  countIncludePad,
});

export const PARITY_CASES: readonly ParityCase[] = [
  // ---- matmul: operands already broadcast to one batch shape, as the Backend receives them.
  { kind: 'matmul', name: 'matmul 5×7 @ 7×3', a: { shape: [5, 7] }, b: { shape: [7, 3] } },
  { kind: 'matmul', name: 'matmul batched, odd sizes', a: { shape: [3, 4, 6] }, b: { shape: [3, 6, 5] } },
  { kind: 'matmul', name: 'matmul transposed left operand', a: { shape: [6, 9], order: [1, 0] }, b: { shape: [9, 4] } },
  { kind: 'matmul', name: 'matmul transposed right operand', a: { shape: [4, 8] }, b: { shape: [8, 5], order: [1, 0] } },
  {
    kind: 'matmul',
    name: 'matmul both transposed, batched',
    a: { shape: [2, 5, 3], order: [0, 2, 1] },
    b: { shape: [2, 3, 7], order: [0, 2, 1] },
  },
  {
    kind: 'matmul',
    name: 'matmul right operand shared by a 2-D batch',
    a: { shape: [2, 3, 4, 5] },
    b: { shape: [2, 3, 5, 6], expandFrom: [5, 6] },
  },
  { kind: 'matmul', name: 'matmul left operand shared', a: { shape: [4, 3, 2], expandFrom: [1, 3, 2] }, b: { shape: [4, 2, 5] } },
  {
    kind: 'matmul',
    name: 'matmul partly broadcast batches',
    a: { shape: [2, 3, 3, 4], expandFrom: [2, 1, 3, 4] },
    b: { shape: [2, 3, 4, 2], expandFrom: [1, 3, 4, 2] },
  },
  { kind: 'matmul', name: 'matmul row times column (M = N = 1)', a: { shape: [1, 7] }, b: { shape: [7, 1] } },
  { kind: 'matmul', name: 'matmul outer product (K = 1)', a: { shape: [6, 1] }, b: { shape: [1, 5] } },
  {
    kind: 'matmul',
    name: 'matmul 33×65 @ 65×17 at offsets',
    a: { shape: [33, 65], offset: 7 },
    b: { shape: [65, 17], order: [1, 0], offset: 3 },
  },
  { kind: 'matmul', name: 'matmul batch of 1', a: { shape: [1, 4, 4] }, b: { shape: [1, 4, 4], order: [0, 2, 1] } },

  // ---- conv2d: forward, ∂/∂x and ∂/∂w (with a random output gradient).
  {
    kind: 'conv2d',
    name: 'conv2d 3×3, output gradient broadcast from a scalar',
    x: { shape: [2, 3, 7, 6] },
    w: { shape: [4, 3, 3, 3] },
    geometry: conv([1, 1], [0, 0]),
    gy: { expandFrom: [1, 1, 1, 1] },
  },
  { kind: 'conv2d', name: 'conv2d rect kernel, stride 2×3, padding 1×2', x: { shape: [2, 3, 9, 8] }, w: { shape: [5, 3, 3, 2] }, geometry: conv([2, 3], [1, 2]) },
  { kind: 'conv2d', name: 'conv2d dilation 2×3', x: { shape: [1, 2, 10, 9] }, w: { shape: [3, 2, 3, 3] }, geometry: conv([1, 1], [2, 1], [2, 3]) },
  { kind: 'conv2d', name: 'conv2d groups 2', x: { shape: [2, 6, 7, 7] }, w: { shape: [4, 3, 3, 3] }, geometry: conv([1, 1], [1, 1], [1, 1], 2) },
  {
    kind: 'conv2d',
    name: 'conv2d depthwise, multiplier 2',
    x: { shape: [2, 4, 6, 5] },
    w: { shape: [8, 1, 3, 3] },
    geometry: conv([1, 1], [1, 1], [1, 1], 4),
  },
  { kind: 'conv2d', name: 'conv2d 1×1, batch 1', x: { shape: [1, 5, 4, 4] }, w: { shape: [3, 5, 1, 1] }, geometry: conv([1, 1], [0, 0]) },
  {
    kind: 'conv2d',
    name: 'conv2d stride larger than the kernel',
    x: { shape: [3, 2, 11, 13] },
    w: { shape: [2, 2, 2, 3] },
    geometry: conv([3, 4], [0, 0]),
  },
  { kind: 'conv2d', name: 'conv2d kernel as large as the input', x: { shape: [2, 2, 5, 4] }, w: { shape: [3, 2, 5, 4] }, geometry: conv([1, 1], [0, 0]) },
  {
    kind: 'conv2d',
    name: 'conv2d channels-last input, permuted weight and gradient',
    x: { shape: [2, 3, 6, 6], order: [0, 2, 3, 1], offset: 5 },
    w: { shape: [4, 3, 3, 3], order: [2, 3, 1, 0] },
    geometry: conv([1, 1], [1, 1]),
    gy: { order: [1, 0, 3, 2] },
  },
  {
    kind: 'conv2d',
    name: 'conv2d stride 2, padding 1×2, dilation 2×1, groups 2',
    x: { shape: [2, 4, 8, 7] },
    w: { shape: [2, 2, 3, 3] },
    geometry: conv([2, 2], [1, 2], [2, 1], 2),
  },
  { kind: 'conv2d', name: 'conv2d padding larger than the kernel', x: { shape: [1, 2, 4, 4] }, w: { shape: [2, 2, 2, 2] }, geometry: conv([1, 1], [3, 3]) },

  // ---- max pooling: values and indices (the index of the FIRST maximum).
  { kind: 'maxPool2d', name: 'maxPool2d 2×2 stride 2', x: { shape: [2, 3, 8, 8] }, geometry: pool([2, 2], [2, 2]) },
  { kind: 'maxPool2d', name: 'maxPool2d 3×3 stride 2 padding 1', x: { shape: [1, 2, 7, 9] }, geometry: pool([3, 3], [2, 2], [1, 1]) },
  {
    kind: 'maxPool2d',
    name: 'maxPool2d rect, stride 1×2, padding 1, dilation 2',
    x: { shape: [2, 2, 9, 10] },
    geometry: pool([2, 3], [1, 2], [1, 1], [2, 2]),
  },
  { kind: 'maxPool2d', name: 'maxPool2d ties pick the first maximum', x: { shape: [1, 2, 6, 6], values: 'ties' }, geometry: pool([3, 3], [1, 1]) },
  { kind: 'maxPool2d', name: 'maxPool2d channels-last input', x: { shape: [2, 3, 5, 5], order: [0, 2, 3, 1] }, geometry: pool([2, 2], [1, 1]) },
  { kind: 'maxPool2d', name: 'maxPool2d global window', x: { shape: [2, 2, 3, 4] }, geometry: pool([3, 4], [3, 4]) },
  {
    kind: 'maxPool2d',
    name: 'maxPool2d NaN beats numbers, first NaN wins',
    x: { shape: [1, 1, 4, 4], nans: [1, 4, 6, 15] },
    geometry: pool([2, 2], [1, 1]),
    nanOrdering: true,
  },

  // ---- average pooling: forward and its transpose (with a random output gradient).
  { kind: 'avgPool2d', name: 'avgPool2d 2×2 stride 2', x: { shape: [1, 3, 6, 6] }, geometry: avg([2, 2], [2, 2], [0, 0], true) },
  { kind: 'avgPool2d', name: 'avgPool2d 3×3 stride 2 padding 1, padding counted', x: { shape: [2, 3, 5, 5] }, geometry: avg([3, 3], [2, 2], [1, 1], true) },
  {
    kind: 'avgPool2d',
    name: 'avgPool2d 3×3 stride 2 padding 1, padding not counted',
    x: { shape: [1, 2, 7, 7] },
    geometry: avg([3, 3], [2, 2], [1, 1], false),
  },
  { kind: 'avgPool2d', name: 'avgPool2d rect 3×2, stride 1×2', x: { shape: [2, 2, 5, 7] }, geometry: avg([3, 2], [1, 2], [0, 0], true) },
  {
    kind: 'avgPool2d',
    name: 'avgPool2d overlapping, padding not counted, transposed gradient',
    x: { shape: [1, 2, 5, 3] },
    geometry: avg([2, 2], [1, 1], [1, 1], false),
    gy: { order: [0, 1, 3, 2] },
  },
  {
    kind: 'avgPool2d',
    name: 'avgPool2d broadcast batch, gradient broadcast from a scalar',
    x: { shape: [3, 2, 4, 4], expandFrom: [1, 2, 4, 4] },
    geometry: avg([2, 2], [1, 1], [1, 1], true),
    gy: { expandFrom: [1, 1, 1, 1] },
  },
];

// ---- building operands ---------------------------------------------------------------------

function contiguousStrides(shape: readonly number[]): number[] {
  const strides: number[] = [];
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d]!;
  }
  return strides;
}

const size = (shape: readonly number[]) => shape.reduce((n, d) => n * d, 1);

/** A stable seed per (case, operand), so every backend sees the same values. */
function seedOf(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** The operand `spec` as a view over fresh storage of `dtype`; `seed` picks the values. */
export function makeOperand(spec: OperandSpec, dtype: FloatDType, seed: string): View {
  const source = spec.expandFrom ?? spec.shape;
  const order = spec.order ?? source.map((_, d) => d);
  const offset = spec.offset ?? 0;
  const random = mulberry32(seedOf(seed));
  const stored = size(source);
  const data = dtype === 'float32' ? new Float32Array(offset + stored) : new Float64Array(offset + stored);
  data.fill(NaN, 0, offset);
  for (let i = 0; i < stored; i++) {
    const u = random() * 2 - 1;
    data[offset + i] = spec.values === 'ties' ? Math.round(u * 2) / 2 : Math.fround(u);
  }
  for (const i of spec.nans ?? []) data[offset + i] = NaN;
  // Storage axis k holds logical axis order[k]; its contiguous stride is that axis's stride.
  const storageStrides = contiguousStrides(order.map((d) => source[d]!));
  const sourceStrides: number[] = [];
  order.forEach((d, k) => (sourceStrides[d] = storageStrides[k]!));
  // Broadcast to `shape`: missing leading axes and size-1 axes get stride 0.
  const lead = spec.shape.length - source.length;
  const strides = spec.shape.map((n, d) => (d < lead || (source[d - lead] === 1 && n !== 1) ? 0 : sourceStrides[d - lead]!));
  return { data, shape: spec.shape, strides, offset };
}

/** Named results of one case on one backend. */
export type ParityResults = Record<string, TypedArray>;

/** Run `c` on `backend` in `dtype`: forward results and, where the case has them, gradients. */
export function runParityCase(backend: Backend, c: ParityCase, dtype: FloatDType): ParityResults {
  const operand = (name: string, spec: OperandSpec) => makeOperand(spec, dtype, `${c.name}/${name}`);
  switch (c.kind) {
    case 'matmul':
      return { out: backend.matmul(operand('a', c.a), operand('b', c.b), dtype) };
    case 'conv2d': {
      const x = operand('x', c.x);
      const w = operand('w', c.w);
      const gy = operand('gy', { ...c.gy, shape: conv2dOutputShape(c.x.shape, c.w.shape, c.geometry) });
      return {
        out: backend.conv2d(x, w, c.geometry, dtype),
        gradInput: backend.conv2dBackwardInput(gy, w, c.x.shape, c.geometry, dtype),
        gradWeight: backend.conv2dBackwardWeight(x, gy, c.w.shape, c.geometry, dtype),
      };
    }
    case 'maxPool2d': {
      const { values, indices } = backend.maxPool2d(operand('x', c.x), c.geometry, dtype);
      return { values, indices };
    }
    case 'avgPool2d': {
      const gy = operand('gy', { ...c.gy, shape: poolOutputShape(c.x.shape, c.geometry) });
      return {
        out: backend.avgPool2d(operand('x', c.x), c.geometry, dtype),
        gradInput: backend.avgPool2dBackward(gy, c.x.shape, c.geometry, dtype),
      };
    }
  }
}

// ---- autograd end to end ----------------------------------------------------------------

/** A small CNN-like function of every op a fast backend replaces (grouped conv, both pools, matmul), reduced to a scalar. */
function parityNetwork(x: Tensor, w: Tensor, m: Tensor): Tensor {
  const y = conv2d(x, w, { stride: 1, padding: 1, groups: 2 }).relu();
  const p = maxPool2d(y, 2, { stride: 2 }).values;
  const q = avgPool2d(p, 2, { stride: 1, padding: 1, countIncludePad: false });
  const features = q.reshape([q.shape[0]!, -1]);
  return features.matmul(m).tanh().sum();
}

/**
 * The network's value and its gradients with respect to x, w and m on seeded inputs: a batch of
 * `batch` 4×8×7 images and `outputs` columns (sizes chosen by each backend's test so that its
 * fast paths are taken).
 */
export function networkValueAndGrads(dtype: FloatDType, batch: number, outputs: number): Tensor[] {
  const x = randn([batch, 4, 8, 7], { seed: 1, dtype });
  const w = randn([6, 2, 3, 3], { seed: 2, dtype });
  const m = randn([6 * 5 * 4, outputs], { seed: 3, dtype, std: 0.1 });
  const [value, grads] = valueAndGrad(parityNetwork, { argnums: [0, 1, 2] })(x, w, m);
  return [value, ...(grads as Tensor[])];
}
