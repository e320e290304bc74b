/**
 * The GPU.js backend: matmul, conv2d and its two backward convolutions, max/avg pooling and
 * avg pooling's backward run as GPU.js kernels (kernels.ts, one source per op for every mode);
 * everything else — elementwise, reductions, indexing, copies — delegates to the CPU backend,
 * since those are memory-bound and a round trip through GPU.js would only add upload and
 * readback to them.
 *
 * Decisions:
 * - float32 only on GPU.js. GPU.js reads, stores and (on webasm and the GL modes) accumulates
 *   in float32, so float64 calls go to the CPU backend: a float64 run keeps float64 results
 *   (gradient checks, the oracle) whatever backend is selected, instead of silently becoming
 *   a float32 experiment. Consequently float32 sums on this backend accumulate in float32, not
 *   float64 as on the CPU backend (errors ≈1e-7–1e-6 at the sizes of a small CNN).
 * - Operands are packed on the CPU into contiguous float32 (pack.ts), so any view works, and
 *   kernels are compiled per (kind, shape/geometry) — never per stride pattern — and cached.
 * - Empty tensors, and tensors of 2^24 elements or more (GPU.js does index arithmetic in
 *   float32 on the GL modes, exact only below 2^24), also go to the CPU backend.
 *
 * Modes: 'auto' (the default) takes GPU.js's own choice — headlessgl, then webgl2, webgl,
 * webasm — and falls back to 'cpu'; in Node without the optional native `gl` package that is
 * webasm, in a browser webgl2. An explicit mode comes from `createGpuBackend({ mode })` or
 * the environment variable GRADSCOPE_GPU_MODE. 'webgpu' is not offered: GPU.js returns a
 * Promise from every webgpu kernel call, and the Backend interface is synchronous.
 *
 * gpu.js is an optional peer dependency, loaded by provide.ts (≈60–130 ms and a probe for the
 * native `gl` module in Node) only when the 'gpu' backend is first asked for
 * (`useBackend('gpu')`); createGpuBackend expects it loaded.
 */
import type { GPU } from 'gpu.js';
import type { DType } from '../../tensor/dtype.js';
import { ValueError } from '../../tensor/errors.js';
import { sizeOf } from '../../tensor/shape.js';
import type { Backend } from '../backend.js';
import { conv2dOutputShape } from '../geometry.js';
import { cpuBackend } from '../cpu/index.js';
import { readEnv } from './env.js';
import { gpuJs } from './gpujs.js';
import { KernelCache, modeOf, type KernelStats } from './kernel-cache.js';
import { GpuKernels } from './ops.js';

/** GPU.js modes this backend can run (all synchronous). */
export const GPU_MODES = ['cpu', 'webasm', 'headlessgl', 'webgl', 'webgl2'] as const;
/** One of GPU_MODES: where GPU.js runs the kernels (JavaScript, WebAssembly, or GLSL via headless-gl / WebGL). */
export type GpuMode = (typeof GPU_MODES)[number];

/** Options of createGpuBackend. */
export interface GpuBackendOptions {
  /** A GPU.js mode, or 'auto' (default; GRADSCOPE_GPU_MODE when set). */
  mode?: GpuMode | 'auto';
  /** How many compiled kernels to keep (least recently used are destroyed). Default 64. */
  cacheSize?: number;
}

/**
 * The GPU.js backend: float32 matmul, convolutions and pooling on GPU.js (for arrays below 2^24
 * elements), everything else on the cpu kernels.
 */
export interface GpuBackend extends Backend {
  /** Always 'gpu'. */
  readonly name: 'gpu';
  /**
   * The GPU.js mode the kernels actually ran in (from `kernel.kernel.constructor.name`), e.g.
   * 'webasm'; 'webasm+cpu' if GPU.js degraded some kernels to its cpu mode.
   */
  readonly mode: string;
  /** Compile and run counts and times. */
  stats(): KernelStats;
  /** Destroy the compiled kernels and the GPU.js instance. */
  destroy(): void;
}

/** Below this many elements float32 index arithmetic is exact. */
const MAX_ELEMENTS = 2 ** 24;

function parseMode(requested: string): GpuMode | 'auto' {
  if (requested === 'auto' || (GPU_MODES as readonly string[]).includes(requested)) return requested as GpuMode | 'auto';
  throw new ValueError(`createGpuBackend: unknown GPU.js mode '${requested}'; expected auto, ${GPU_MODES.join(', ')}`);
}

/**
 * Create a GPU.js instance in `mode` and prove it works with a three-element kernel; return it
 * with the mode that kernel really ran in. 'auto' tries GPU.js's own choice, then 'cpu'.
 */
function openGpu(mode: GpuMode | 'auto'): { gpu: GPU; mode: string } {
  const { GPU, Input } = gpuJs();
  const attempts = mode === 'auto' ? (['gpu', 'cpu'] as const) : [mode];
  const problems: string[] = [];
  for (const attempt of attempts) {
    let gpu: GPU | undefined;
    try {
      gpu = new GPU({ mode: attempt });
      const probe = gpu.createKernel(function (this: { thread: { x: number } }, a: number[]) {
        return a[this.thread.x]! * 2 + 1;
      }, { output: [3] });
      const result = probe(new Input([1, 2, 3], [3])) as Float32Array;
      const actual = modeOf(probe, attempt);
      probe.destroy();
      if (result[0] !== 3 || result[1] !== 5 || result[2] !== 7) throw new Error(`probe kernel returned [${Array.from(result)}], expected [3,5,7]`);
      return { gpu, mode: actual };
    } catch (error) {
      void gpu?.destroy();
      problems.push(`${attempt}: ${(error as Error).message}`);
    }
  }
  const hint = mode === 'headlessgl' ? ' (headlessgl needs the optional native `gl` package and, on Linux, an X server such as xvfb-run)' : '';
  throw new ValueError(`createGpuBackend: GPU.js mode '${mode}' does not work here${hint}; ${problems.join('; ')}`);
}

/**
 * A GPU.js backend; gpu.js must be loaded first (provide.ts's loadGpuJsModule or provideGpuJs).
 * @example await loadGpuJsModule(); registerBackend(createGpuBackend({ mode: 'cpu' })); setBackend('gpu');
 */
export function createGpuBackend(options: GpuBackendOptions = {}): GpuBackend {
  const requested = parseMode(options.mode ?? readEnv('GRADSCOPE_GPU_MODE') ?? 'auto');
  const opened = openGpu(requested);
  const cache = new KernelCache(opened.gpu, opened.mode, options.cacheSize ?? 64);
  cache.modes.add(opened.mode);
  const gpu = new GpuKernels(cache);
  const cpu = cpuBackend;

  /** Whether a call goes to GPU.js: float32, and every array non-empty and below 2^24 elements. */
  const onGpu = (dtype: DType, ...shapes: (readonly number[])[]) =>
    dtype === 'float32' && shapes.every((s) => sizeOf(s) > 0 && sizeOf(s) < MAX_ELEMENTS);

  return {
    // Memory-bound kernels (elementwise, reductions, indexing, copies): the CPU backend's.
    ...cpu,
    name: 'gpu',
    get mode() {
      return [...cache.modes].join('+');
    },
    stats: () => cache.stats(),
    destroy: () => {
      cache.destroy();
      void opened.gpu.destroy();
    },

    // Compute-bound kernels: GPU.js in float32.
    matmul: (a, b, dtype) => {
      const outShape = [...a.shape.slice(0, -1), b.shape[b.shape.length - 1]!];
      return onGpu(dtype, a.shape, b.shape, outShape) ? gpu.matmul(a, b) : cpu.matmul(a, b, dtype);
    },
    conv2d: (x, w, g, dtype) =>
      onGpu(dtype, x.shape, w.shape, conv2dOutputShape(x.shape, w.shape, g)) ? gpu.conv2d(x, w, g) : cpu.conv2d(x, w, g, dtype),
    conv2dBackwardInput: (gy, w, inputShape, g, dtype) =>
      onGpu(dtype, gy.shape, w.shape, inputShape)
        ? gpu.conv2dBackwardInput(gy, w, inputShape, g)
        : cpu.conv2dBackwardInput(gy, w, inputShape, g, dtype),
    conv2dBackwardWeight: (x, gy, weightShape, g, dtype) =>
      onGpu(dtype, x.shape, gy.shape, weightShape)
        ? gpu.conv2dBackwardWeight(x, gy, weightShape, g)
        : cpu.conv2dBackwardWeight(x, gy, weightShape, g, dtype),
    maxPool2d: (x, g, dtype) => (onGpu(dtype, x.shape) ? gpu.maxPool2d(x, g) : cpu.maxPool2d(x, g, dtype)),
    avgPool2d: (x, g, dtype) => (onGpu(dtype, x.shape) ? gpu.avgPool2d(x, g) : cpu.avgPool2d(x, g, dtype)),
    avgPool2dBackward: (gy, inputShape, g, dtype) =>
      onGpu(dtype, gy.shape, inputShape)
        ? gpu.avgPool2dBackward(gy, inputShape, g)
        : cpu.avgPool2dBackward(gy, inputShape, g, dtype),
  };
}
