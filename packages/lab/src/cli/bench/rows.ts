/**
 * The benchmark rows: what each one computes, as plain data. Every implementation (gradscope,
 * tfjs-cpu, tfjs-wasm, GPU.js) builds the same row from this description, and the FLOP count
 * comes from the same shapes.
 */
import { attentionFlops, convTrainFlops, lenetForwardFlops, lenetStepFlops, matmulFlops, mlpForwardFlops, mlpStepFlops } from './flops.js';
import { peakCallFlops } from './peak.js';

/**
 * The machine's WebAssembly SIMD limit (peak.ts): `iterations` rounds of `accumulators`
 * independent f32x4 multiply-add chains, on `threads` threads at once (one call each). Not an
 * implementation's row: it is measured once, and the other rows are reported as a percentage
 * of it.
 */
export interface PeakRow {
  kind: 'peak';
  name: string;
  threads: number;
  iterations: number;
  accumulators: number;
}

/** C[m, n] = A[m, k] @ B[k, n] in float32 (or float64, see `dtype`). */
export interface MatmulRow {
  kind: 'matmul';
  name: string;
  /**
   * float64 rows compare gradscope's backends only (WebAssembly and pure TypeScript): tfjs
   * has no float64, and gradscope's GPU.js backend runs float64 on the pure-TypeScript kernels.
   */
  dtype?: 'float64';
  m: number;
  k: number;
  n: number;
  /**
   * A is stored [k, m] and used transposed (Aᵀ·B, as in every backward pass): gradscope
   * multiplies the permuted view, tfjs gets `matMul(a, b, transposeA = true)`.
   */
  transposeA?: boolean;
  /**
   * Threads for gradscope's wasm backend (setWasmThreads); backends without threads report the
   * row as n/a. The tfjs peers run on one thread whatever this says (tfjs-wasm's threaded
   * build does not start in Node).
   */
  threads?: number;
  /** Products per timed run, for shapes too small to time one by one (default 1). */
  repeat?: number;
}

/** conv2d forward, then its input gradient and filter gradient for a given output gradient. */
export interface ConvRow {
  kind: 'conv';
  name: string;
  batch: number;
  /** Input height and width (square). */
  size: number;
  inChannels: number;
  outChannels: number;
  kernel: number;
  padding: number;
}

/** One SGD step of an MLP with ReLU: forward, cross-entropy, backward, update. */
export interface TrainMlpRow {
  kind: 'train-mlp';
  name: string;
  batch: number;
  widths: number[];
}

/** One SGD step of LeNet-5 on 28×28×1 (see models.ts). */
export interface TrainLenetRow {
  kind: 'train-lenet';
  name: string;
  batch: number;
}

/**
 * A model of the nn zoo (src/nn/zoo.ts), float32, seed 0: `mlp(widths, { activation: 'relu' })`
 * or `lenet5()` (with BatchNorm), in eval mode except in train-zoo rows. Same layer shapes as
 * models.ts.
 */
export type ZooModel = { name: 'mlp'; widths: number[] } | { name: 'lenet5' };

/**
 * One ordinary batch gradient of a zoo model: forward, mean cross-entropy, backward to every
 * parameter, the gradients read back. No update.
 */
export interface GradRow {
  kind: 'grad';
  name: string;
  /** As MatmulRow.dtype (default float32). */
  dtype?: 'float64';
  batch: number;
  model: ZooModel;
  /** As MatmulRow.threads: gradscope's wasm backend with setWasmThreads(threads). */
  threads?: number;
}

/**
 * One SGD step of a zoo model in train mode (BatchNorm on the batch's statistics, its running
 * statistics updated): forward, mean cross-entropy, backward to every parameter, p ← p − lr·g
 * in place, the loss read back.
 */
export interface TrainZooRow {
  kind: 'train-zoo';
  name: string;
  batch: number;
  model: ZooModel;
  /** As MatmulRow.threads. */
  threads?: number;
}

/**
 * Per-sample gradients of the same model on the same batch: `perSampleGrads` with one
 * PerSampleWorkspace reused across runs (the steady state), every result touched.
 */
export interface PerSampleRow {
  kind: 'per-sample';
  name: string;
  batch: number;
  model: ZooModel;
}

/**
 * One Hessian-vector product of the same model's mean loss on the same batch, in the
 * flattened parameter order, by double backward (src/analysis/objective.ts,
 * hessianVectorProduct; BatchNorm in eval mode like the grad rows), read back.
 */
export interface HvpRow {
  kind: 'hvp';
  name: string;
  batch: number;
  model: ZooModel;
}

/**
 * Per-sample gradients of the same model on the same batch by the transforms alone, as a
 * torch.func user writes them: `vmap(grad(loss of one sample), { inAxes: [null, 0, 0] })` over
 * `functionalCall(model, params, xᵢ.unsqueeze(0))` with the parameters by name (detached, as
 * the torch.func recipe does), every result touched like the per-sample rows.
 */
export interface VmapGradRow {
  kind: 'vmap-grad';
  name: string;
  batch: number;
  model: ZooModel;
}

/** The same model's forward pass alone, `functionalCall(model, params, x)`, logits read back. */
export interface ForwardRow {
  kind: 'forward';
  name: string;
  batch: number;
  model: ZooModel;
}

/**
 * Forward-mode `jvp` of the forward row's function with respect to the parameters (one
 * tangent per parameter, by functionalCall; the input is held fixed): one forward pass
 * carrying tangents, logits and their tangent read back.
 */
export interface JvpRow {
  kind: 'jvp';
  name: string;
  batch: number;
  model: ZooModel;
}

/**
 * The HVP row's product by forward-over-reverse, `jvp((w) => grad(F)(w), [w], [v])`, with F the
 * mean loss of the batch at a flat parameter vector (`model.callWithVector`, the same flat
 * order, vector and eval BatchNorm as the hvp rows), read back.
 */
export interface HvpFwdRow {
  kind: 'hvp-fwd';
  name: string;
  batch: number;
  model: ZooModel;
}

/**
 * One layer a Transformer needs, on activations [batch, seq, dim] in float32: its forward pass,
 * then its backward pass for a fixed output gradient (randn seed 9), every output read back.
 * - 'layer-norm': LayerNorm over the last axis (dim) with weight and bias; gradients for x,
 *   weight and bias.
 * - 'attention': scaled dot-product attention softmax(q kᵀ/√(dim/heads) [+ causal mask]) v with
 *   q, k, v [batch, heads, seq, dim/heads] (dim split into heads); gradients for q, k and v.
 */
export interface TransformerLayerRow {
  kind: 'transformer-layer';
  name: string;
  layer: 'layer-norm' | 'attention';
  batch: number;
  seq: number;
  /** The feature size: LayerNorm's normalized size; heads × the head size for attention. */
  dim: number;
  /** Attention heads (attention rows only). */
  heads?: number;
  /** The causal mask: key j > query i masked (attention rows only). */
  causal?: boolean;
}

export type Row =
  | PeakRow
  | MatmulRow
  | ConvRow
  | TrainMlpRow
  | TrainLenetRow
  | TrainZooRow
  | GradRow
  | PerSampleRow
  | HvpRow
  | VmapGradRow
  | ForwardRow
  | JvpRow
  | HvpFwdRow
  | TransformerLayerRow;
export type RowKind = Row['kind'];
/** The row type of one kind, for tables keyed by kind. */
export type RowOf<K extends RowKind> = Extract<Row, { kind: K }>;
/** The rows the implementations run (every kind but the machine's peak). */
export type ImplRow = Exclude<Row, PeakRow>;
export type ImplRowKind = ImplRow['kind'];

/** Threads the row asks for (1 unless it says otherwise). */
export function rowThreads(row: Row): number {
  return 'threads' in row ? (row.threads ?? 1) : 1;
}

/** Output height/width of a stride-1 convolution row. */
export function convOutSize(row: ConvRow): number {
  return row.size + 2 * row.padding - row.kernel + 1;
}

export function rowFlops(row: Row): number {
  switch (row.kind) {
    case 'peak':
      // Every thread makes one call.
      return row.threads * peakCallFlops(row.iterations, row.accumulators);
    case 'matmul':
      return (row.repeat ?? 1) * matmulFlops(row.m, row.k, row.n);
    case 'conv': {
      const out = convOutSize(row);
      return convTrainFlops({ batch: row.batch, inChannels: row.inChannels, outChannels: row.outChannels, outHeight: out, outWidth: out, kernel: row.kernel });
    }
    case 'train-mlp':
      return mlpStepFlops(row.batch, row.widths);
    case 'train-lenet':
      return lenetStepFlops(row.batch);
    case 'grad':
    case 'train-zoo':
    case 'per-sample':
    case 'hvp':
    case 'vmap-grad':
    case 'hvp-fwd':
      // Per-sample and HVP rows count the batch gradient's FLOPs too, so GFLOP/s compare directly;
      // a training step counts the same (the update and BatchNorm are not matmuls).
      return zooGradFlops(row.batch, row.model);
    case 'forward':
    case 'jvp':
      // The jvp row counts the forward pass's FLOPs, for the same reason.
      return zooForwardFlops(row.batch, row.model);
    case 'transformer-layer':
      // LayerNorm has no matmul (its GFLOP/s reads 0: compare milliseconds).
      return row.layer === 'attention' ? attentionFlops(row.batch * row.heads!, row.seq, row.dim / row.heads!) : 0;
  }
}

/** The forward pass alone (matmuls and convolutions). */
export function zooForwardFlops(batch: number, model: ZooModel): number {
  return model.name === 'mlp' ? mlpForwardFlops(batch, model.widths) : lenetForwardFlops(batch);
}

/** Forward plus backward (weight gradients; input gradients of all layers but the first). */
export function zooGradFlops(batch: number, model: ZooModel): number {
  return model.name === 'mlp' ? mlpStepFlops(batch, model.widths) : lenetStepFlops(batch);
}

/** The MLP of every MLP row: 784-256-256-10 with ReLU. */
const MLP = [784, 256, 256, 10];
/** Peak kernel: 12 chains (peak.ts says why), 2²⁵ iterations (≈ 3.2 GFLOP, ≈ 50 ms at the expected peak). */
const PEAK_ITERATIONS = 2 ** 25;
const PEAK_ACCUMULATORS = 12;

/** The rows `gradscope bench` runs, in order (names are stable: JSON consumers key on them). */
export const ROWS: readonly Row[] = [
  // The machine's WebAssembly SIMD limit, one thread and two (the reference of the % columns).
  { kind: 'peak', name: 'peak-simd128', threads: 1, iterations: PEAK_ITERATIONS, accumulators: PEAK_ACCUMULATORS },
  { kind: 'peak', name: 'peak-simd128-2t', threads: 2, iterations: PEAK_ITERATIONS, accumulators: PEAK_ACCUMULATORS },
  { kind: 'matmul', name: 'matmul-f32-1024', m: 1024, k: 1024, n: 1024 },
  // gradscope on two threads against the peers on one (tfjs-wasm's threaded build does not start in Node).
  { kind: 'matmul', name: 'matmul-f32-1024-2t', m: 1024, k: 1024, n: 1024, threads: 2 },
  { kind: 'matmul', name: 'matmul-f32-1024-At', m: 1024, k: 1024, n: 1024, transposeA: true },
  { kind: 'matmul', name: 'matmul-f32-64x784x256', m: 64, k: 784, n: 256 },
  { kind: 'matmul', name: 'matmul-f32-37x53x29', m: 37, k: 53, n: 29, repeat: 200 },
  { kind: 'matmul', name: 'matmul-f64-512', m: 512, k: 512, n: 512, dtype: 'float64' },
  { kind: 'conv', name: 'conv-lenet-1', batch: 64, size: 28, inChannels: 1, outChannels: 6, kernel: 5, padding: 0 },
  { kind: 'conv', name: 'conv-lenet-2', batch: 64, size: 12, inChannels: 6, outChannels: 16, kernel: 5, padding: 0 },
  { kind: 'conv', name: 'conv-32x32x16', batch: 32, size: 32, inChannels: 16, outChannels: 32, kernel: 3, padding: 1 },
  { kind: 'train-mlp', name: 'train-mlp', batch: 128, widths: MLP },
  { kind: 'train-lenet', name: 'train-lenet', batch: 128 },
  // Issue #17: LeNet-5 with BatchNorm in train mode (batch statistics), one thread and two.
  { kind: 'train-zoo', name: 'train-lenet-bn', batch: 128, model: { name: 'lenet5' } },
  { kind: 'train-zoo', name: 'train-lenet-bn-2t', batch: 128, model: { name: 'lenet5' }, threads: 2 },
  { kind: 'grad', name: 'grad-mlp', batch: 128, model: { name: 'mlp', widths: MLP } },
  { kind: 'grad', name: 'grad-mlp-2t', batch: 128, model: { name: 'mlp', widths: MLP }, threads: 2 },
  { kind: 'per-sample', name: 'per-sample-mlp', batch: 128, model: { name: 'mlp', widths: MLP } },
  // Per-sample gradients at larger batches, each beside the batch gradient of the same batch.
  { kind: 'grad', name: 'grad-mlp-b512', batch: 512, model: { name: 'mlp', widths: MLP } },
  { kind: 'per-sample', name: 'per-sample-mlp-b512', batch: 512, model: { name: 'mlp', widths: MLP } },
  { kind: 'grad', name: 'grad-mlp-b1024', batch: 1024, model: { name: 'mlp', widths: MLP } },
  { kind: 'per-sample', name: 'per-sample-mlp-b1024', batch: 1024, model: { name: 'mlp', widths: MLP } },
  { kind: 'grad', name: 'grad-lenet', batch: 128, model: { name: 'lenet5' } },
  { kind: 'grad', name: 'grad-lenet-2t', batch: 128, model: { name: 'lenet5' }, threads: 2 },
  { kind: 'per-sample', name: 'per-sample-lenet', batch: 128, model: { name: 'lenet5' } },
  { kind: 'hvp', name: 'hvp-mlp', batch: 128, model: { name: 'mlp', widths: MLP } },
  { kind: 'hvp', name: 'hvp-lenet', batch: 128, model: { name: 'lenet5' } },
  { kind: 'grad', name: 'grad-mlp-f64', batch: 128, model: { name: 'mlp', widths: MLP }, dtype: 'float64' },
  // The transforms (vmap, forward-mode jvp).
  { kind: 'vmap-grad', name: 'vmap-grad-mlp', batch: 128, model: { name: 'mlp', widths: MLP } },
  { kind: 'vmap-grad', name: 'vmap-grad-lenet', batch: 128, model: { name: 'lenet5' } },
  { kind: 'forward', name: 'forward-mlp', batch: 128, model: { name: 'mlp', widths: MLP } },
  { kind: 'jvp', name: 'jvp-mlp', batch: 128, model: { name: 'mlp', widths: MLP } },
  { kind: 'hvp-fwd', name: 'hvp-fwd-mlp', batch: 128, model: { name: 'mlp', widths: MLP } },
  // Issue #18: the layers a Transformer needs, at sequence 128 and d 64 (4 heads of 16), forward + backward.
  { kind: 'transformer-layer', name: 'layernorm-b32-t128-d64', layer: 'layer-norm', batch: 32, seq: 128, dim: 64 },
  { kind: 'transformer-layer', name: 'attention-b32-h4-t128-d64', layer: 'attention', batch: 32, seq: 128, dim: 64, heads: 4 },
  { kind: 'transformer-layer', name: 'attention-causal-b32-h4-t128-d64', layer: 'attention', batch: 32, seq: 128, dim: 64, heads: 4, causal: true },
];

export const ROW_NAMES: readonly string[] = ROWS.map((r) => r.name);

/** The peak rows: `--only` always measures them too, since the % columns and bars divide by them. */
export const PEAK_ROWS: readonly PeakRow[] = ROWS.filter((r): r is PeakRow => r.kind === 'peak');

/** The rows plus the peak rows they lack, in ROWS order. */
export function withPeakRows(rows: readonly Row[]): Row[] {
  return [...PEAK_ROWS.filter((p) => !rows.some((r) => r.name === p.name)), ...rows];
}

/**
 * The rows named in a comma-separated list (`gradscope bench --only grad-mlp,vmap-grad-mlp`),
 * in ROWS order; an unknown name is refused with the list of known ones.
 */
export function selectRows(names: string, rows: readonly Row[] = ROWS): Row[] {
  const wanted = names.split(',').map((n) => n.trim()).filter((n) => n !== '');
  if (wanted.length === 0) throw new Error('bench: --only expects a comma-separated list of row names');
  const known = new Set(rows.map((r) => r.name));
  const unknown = wanted.filter((n) => !known.has(n));
  if (unknown.length > 0) throw new Error(`bench: no row named ${unknown.map((n) => `'${n}'`).join(', ')}; the rows are ${rows.map((r) => r.name).join(', ')}`);
  return rows.filter((r) => wanted.includes(r.name));
}
