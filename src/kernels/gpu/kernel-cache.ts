/**
 * Compiled GPU.js kernels, one per (kind, output size, constants), for one GPU.js instance
 * (hence one mode).
 *
 * GPU.js compiles a kernel on its first call, at 10–80 ms a time, and bakes shapes and geometry
 * in as constants. Training repeats the same few shapes every step, so a kernel is compiled
 * once and reused; the least recently used ones are destroyed beyond `limit`, so a stream of
 * new shapes (a ragged last batch every epoch, a sweep over sizes) cannot grow memory forever.
 */
import type { GPU, IKernelRunShortcut, Input } from 'gpu.js';
import { InternalError } from '../../tensor/errors.js';

/** GPU.js modes by the class name of the kernel that ran (`kernel.kernel.constructor.name`). */
const MODE_OF_CLASS: Record<string, string> = {
  CPUKernel: 'cpu',
  WebAssemblyKernel: 'webasm',
  HeadlessGLKernel: 'headlessgl',
  WebGLKernel: 'webgl',
  WebGL2Kernel: 'webgl2',
  WebGPUKernel: 'webgpu',
};

/** The GPU.js mode a compiled kernel actually runs in. */
export function modeOf(kernel: IKernelRunShortcut, fallback: string): string {
  // A minified browser bundle may rename the classes; then trust what was asked for.
  return MODE_OF_CLASS[kernel.kernel.constructor.name] ?? fallback;
}

/** Counters for benchmarks and for tests that keep compile counts low. */
export interface KernelStats {
  /** Kernels compiled (first calls). */
  compiles: number;
  /** Time of first calls: compilation plus one run. */
  compileMs: number;
  /** Later calls. */
  runs: number;
  /** Time of later calls, in milliseconds (the kernel alone, as GPU.js returns it). */
  runMs: number;
  /** Kernels currently cached. */
  cached: number;
}

/** The GPU.js output size [x, y, z]: x varies fastest. */
export type OutputSize = [number, number, number];

/**
 * The compiled kernels of one GPU.js instance, keyed by (kind, output size, constants), with
 * least-recently-used eviction beyond `limit` (see the file comment).
 */
export class KernelCache {
  private readonly kernels = new Map<string, IKernelRunShortcut>();
  private readonly counters = { compiles: 0, compileMs: 0, runs: 0, runMs: 0 };
  /** Modes that compiled kernels actually ran in (webasm can degrade a kernel to cpu). */
  readonly modes = new Set<string>();

  constructor(
    private readonly gpu: GPU,
    private readonly requestedMode: string,
    private readonly limit: number,
  ) {}

  /**
   * Run kernel `source` over `output` with `constants` baked in, and return its result
   * flattened row-major ([z][y][x]) into a new Float32Array.
   */
  run(kind: string, source: (...args: never[]) => number, output: OutputSize, constants: object, args: Input[]): Float32Array {
    const key = `${kind}|${output.join(',')}|${JSON.stringify(constants)}`;
    let kernel = this.kernels.get(key);
    const first = kernel === undefined;
    if (kernel) {
      // Map order is insertion order: re-inserting marks the kernel most recently used.
      this.kernels.delete(key);
    } else {
      // `as never`: our kernels type only the part of GPU.js's `this` they use (kernels.ts).
      kernel = this.gpu.createKernel(source as never, {
        output,
        constants,
        // highp on the GL modes: float32 everywhere, never half floats.
        tactic: 'precision',
        precision: 'single',
      });
    }
    this.kernels.set(key, kernel);
    const start = performance.now();
    const result = kernel(...args);
    const ms = performance.now() - start;
    if (first) {
      this.counters.compiles++;
      this.counters.compileMs += ms;
      this.modes.add(modeOf(kernel, this.requestedMode));
      this.evict();
    } else {
      this.counters.runs++;
      this.counters.runMs += ms;
    }
    return flatten(result, output, kind);
  }

  /** The counters so far, and how many kernels are cached now. */
  stats(): KernelStats {
    return { ...this.counters, cached: this.kernels.size };
  }

  /** Destroy every cached kernel (its GPU resources) and empty the cache; the counters stay. */
  destroy(): void {
    for (const kernel of this.kernels.values()) kernel.destroy();
    this.kernels.clear();
  }

  private evict(): void {
    for (const [key, kernel] of this.kernels) {
      if (this.kernels.size <= this.limit) break;
      this.kernels.delete(key);
      kernel.destroy();
    }
  }
}

/**
 * GPU.js returns a 3-D output as z planes of y rows, each row a Float32Array of x values
 * (on webasm, views into the kernel's own memory, overwritten by its next call). Copy the rows
 * into one array: one `set` (a memcpy) per row.
 */
function flatten(result: unknown, [x, y, z]: OutputSize, kind: string): Float32Array {
  const out = new Float32Array(x * y * z);
  const planes = result as ArrayLike<ArrayLike<Float32Array>>;
  if (planes.length !== z) throw new InternalError(`gpu ${kind}: expected ${z} output planes from GPU.js, got ${planes.length}`);
  let o = 0;
  for (let k = 0; k < z; k++) {
    const plane = planes[k]!;
    for (let j = 0; j < y; j++) {
      out.set(plane[j]!, o);
      o += x;
    }
  }
  return out;
}
