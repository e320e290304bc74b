/**
 * The WebAssembly convolution packers and col2im (src/kernels/wasm/conv-module.ts, driven by
 * conv.ts) against the pure-TypeScript backend on random geometries — stride 1–3, padding
 * 0–2, dilation 1–2, groups 1–3 (depthwise included), odd sizes so that edge slivers and
 * sliver-straddling image rows occur — and operand layouts (contiguous, channels-last, at an
 * offset, a broadcast output gradient) against the float64 CPU results, to 10⁻¹² (float64)
 * or 3·10⁻⁵ (float32) of the terms' magnitudes (conv-operands.ts says why). The wasm kernels
 * are called directly, so products below the backend's size crossover take the module path too;
 * then many geometries in turn (the tables are cached per geometry), the deep weight-gradient
 * products streamed K block by K block (bit for bit the result of packing all of K first), and
 * the module's three packing paths (runs of adjacent lines, flagged adjacent steps, single
 * numbers) on their own.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cpuBackend } from '../../src/kernels/cpu/index.js';
import { conv2dOutputShape } from '../../src/kernels/geometry.js';
import { simdAvailable } from '../../src/kernels/wasm/index.js';
import { runOnOneThread } from '../../src/kernels/wasm/gemm.js';
import { streaming, wasmConv2d, wasmConv2dBackwardInput, wasmConv2dBackwardWeight } from '../../src/kernels/wasm/conv.js';
import { convExports } from '../../src/kernels/wasm/conv-module.js';
import { wasmRuntime } from '../../src/kernels/wasm/runtime.js';
import { splitting, threadedRunner } from '../../src/kernels/wasm/threads.js';
import { enableRelaxedSimd } from '../../packages/lab/src/cli/engine-flags.js';
import type { FloatDType, TypedArray } from '../../src/tensor/dtype.js';
import { mulberry32 } from '../arbitraries.js';
import { expectClose, operand, reference, type ConvProblem, type Shape4 } from './conv-operands.js';

enableRelaxedSimd();

const int = (min: number, max: number) => fc.integer({ min, max });
const pair = (min: number, max: number) => fc.tuple(int(min, max), int(min, max));

const problem: fc.Arbitrary<ConvProblem> = fc
  .record({
    n: int(1, 4),
    groups: int(1, 3),
    cg: int(1, 4),
    coutg: int(1, 9),
    k: pair(1, 5),
    stride: pair(1, 3),
    padding: pair(0, 2),
    dilation: pair(1, 2),
    extra: pair(0, 12),
    xLayout: int(0, 2),
    gyLayout: int(0, 3),
    seed: int(0, 1e6),
  })
  .map(({ n, groups, cg, coutg, k, stride, padding, dilation, extra, xLayout, gyLayout, seed }) => {
    const size = (a: 0 | 1) => Math.max(1, dilation[a] * (k[a] - 1) + 1 - 2 * padding[a]) + extra[a];
    return {
      x: [n, groups * cg, size(0), size(1)],
      w: [groups * coutg, cg, k[0], k[1]],
      g: { stride, padding, dilation, groups },
      xLayout,
      gyLayout,
      seed,
    };
  });

function check(p: ConvProblem, dtype: FloatDType): void {
  const rng = mulberry32(p.seed);
  const x = operand(p.x, dtype, p.xLayout, rng);
  const w = operand(p.w, dtype, p.seed % 2, rng);
  const gy = operand(conv2dOutputShape(p.x, p.w, p.g), dtype, p.gyLayout, rng);
  const rt = wasmRuntime(dtype);
  const what = `${dtype} x [${p.x}] w [${p.w}] ${JSON.stringify(p.g)} layouts ${p.xLayout}/${p.gyLayout}`;
  expectClose(wasmConv2d(rt, runOnOneThread, x, w, p.g)!, reference((x, w) => cpuBackend.conv2d(x, w, p.g, 'float64'), x, w), dtype, `${what}: conv2d`);
  expectClose(
    wasmConv2dBackwardInput(rt, runOnOneThread, gy, w, p.x, p.g)!,
    reference((gy, w) => cpuBackend.conv2dBackwardInput(gy, w, p.x, p.g, 'float64'), gy, w),
    dtype,
    `${what}: ∂/∂x`,
  );
  expectClose(
    wasmConv2dBackwardWeight(rt, runOnOneThread, x, gy, p.w, p.g)!,
    reference((x, gy) => cpuBackend.conv2dBackwardWeight(x, gy, p.w, p.g, 'float64'), x, gy),
    dtype,
    `${what}: ∂/∂w`,
  );
}

describe.skipIf(!simdAvailable())('wasm convolution packers and col2im against the cpu backend', () => {
  for (const dtype of ['float64', 'float32'] as const) {
    it(`random geometries and layouts (${dtype})`, () => {
      fc.assert(fc.property(problem, (p) => check(p, dtype)), { numRuns: 150 });
    });
  }

  it('LeNet-5 shapes: 1→6 5×5 padding 2 on 28×28, 6→16 5×5 on 14×14 (both types)', () => {
    for (const dtype of ['float64', 'float32'] as const) {
      check({ x: [3, 1, 28, 28], w: [6, 1, 5, 5], g: { stride: [1, 1], padding: [2, 2], dilation: [1, 1], groups: 1 }, xLayout: 0, gyLayout: 0, seed: 1 }, dtype);
      check({ x: [3, 6, 14, 14], w: [16, 6, 5, 5], g: { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 }, xLayout: 0, gyLayout: 0, seed: 2 }, dtype);
    }
  });

  it('stays right across many geometries in turn and back again (the tables are cached by geometry)', () => {
    const shapes = Array.from({ length: 60 }, (_, i) => ({
      x: [1 + (i % 3), 2, 5 + (i % 7), 6 + (i % 5)] as Shape4,
      w: [3, 2, 3, 3] as Shape4,
      g: { stride: [1 + (i % 2), 1] as [number, number], padding: [i % 2, 1] as [number, number], dilation: [1, 1] as [number, number], groups: 1 },
      xLayout: 0,
      gyLayout: 0,
      seed: i,
    }));
    for (const p of [...shapes, ...shapes.slice(0, 5)]) check(p, 'float64');
  });
});

/** The weight gradient with streaming forced on every deep product, and switched off. */
function streamedAndNot(p: ConvProblem, dtype: FloatDType): [TypedArray, TypedArray] {
  const rng = mulberry32(p.seed);
  const x = operand(p.x, dtype, p.xLayout, rng);
  const gy = operand(conv2dOutputShape(p.x, p.w, p.g), dtype, p.gyLayout, rng);
  const rt = wasmRuntime(dtype);
  const saved = { ...streaming };
  try {
    Object.assign(streaming, { minPackedBytes: 0, maxTiles: Infinity });
    const streamed = wasmConv2dBackwardWeight(rt, runOnOneThread, x, gy, p.w, p.g)!;
    Object.assign(streaming, { minPackedBytes: Infinity });
    return [streamed, wasmConv2dBackwardWeight(rt, runOnOneThread, x, gy, p.w, p.g)!];
  } finally {
    Object.assign(streaming, saved);
  }
}

describe.skipIf(!simdAvailable())('deep weight-gradient products, streamed K block by K block', () => {
  // Batches of 6–12 on 8–19-pixel images: K = N·Ho·Wo runs past one K block (256 steps) and ends in a partial one.
  const deep = problem.map((p) => ({ ...p, x: [6 + (p.seed % 7), p.x[1], p.x[2] + 6, p.x[3] + 6] as ConvProblem['x'] }));
  for (const dtype of ['float64', 'float32'] as const) {
    it(`give the unstreamed result to the bit, and the cpu backend's (${dtype})`, () => {
      fc.assert(
        fc.property(deep, (p) => {
          const [streamed, whole] = streamedAndNot(p, dtype);
          expect(streamed.length).toBe(whole.length);
          for (let i = 0; i < whole.length; i++) if (!Object.is(streamed[i], whole[i])) expect.fail(`element ${i}: ${streamed[i]} streamed, ${whole[i]} not`);
          check(p, dtype);
        }),
        { numRuns: 25 },
      );
    });
  }

  it('cut into 2–5 K partitions (as on threads: threads.ts), each summed apart and added in order: the cpu backend\'s result', () => {
    const saved = { ...streaming };
    try {
      fc.assert(
        fc.property(deep, fc.integer({ min: 2, max: 5 }), fc.constantFrom('float64', 'float32' as const), (p, partitions, dtype) => {
          Object.assign(streaming, { minPackedBytes: 0, maxTiles: Infinity });
          splitting.partitions = partitions;
          const rng = mulberry32(p.seed);
          const x = operand(p.x, dtype, p.xLayout, rng);
          const gy = operand(conv2dOutputShape(p.x, p.w, p.g), dtype, p.gyLayout, rng);
          const expected = reference((x, gy) => cpuBackend.conv2dBackwardWeight(x, gy, p.w, p.g, 'float64'), x, gy);
          expectClose(wasmConv2dBackwardWeight(wasmRuntime(dtype), threadedRunner, x, gy, p.w, p.g)!, expected, dtype, `${dtype} [${p.x}] in ${partitions} partitions`);
        }),
        { numRuns: 40 },
      );
    } finally {
      Object.assign(streaming, saved);
      splitting.partitions = 0;
    }
  });

  it("LeNet-5's weight gradients at batch 128 (deep enough to stream by default) give the same bits", () => {
    const lenet = [
      { x: [128, 1, 28, 28], w: [6, 1, 5, 5], g: { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 } },
      { x: [128, 6, 12, 12], w: [16, 6, 5, 5], g: { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 } },
    ] as const;
    for (const dtype of ['float64', 'float32'] as const) {
      for (const [i, shape] of lenet.entries()) {
        const p: ConvProblem = { x: [...shape.x], w: [...shape.w], g: { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 }, xLayout: 0, gyLayout: 0, seed: i };
        // Packed A and B hold at least K · (kdim + Cout) numbers (K = N·Ho·Wo, 5×5 kernels):
        // over the default threshold, so both stream by default.
        const K = p.x[0] * (p.x[2] - 4) * (p.x[3] - 4);
        expect(K * (p.w[1] * 25 + p.w[0]) * 4).toBeGreaterThan(streaming.minPackedBytes);
        const [streamed, whole] = streamedAndNot(p, dtype);
        expect(Array.from(streamed)).toEqual(Array.from(whole));
      }
    }
  });
});

describe.skipIf(!simdAvailable())('the module packers on their own', () => {
  /**
   * Pack a table matrix (element (l, s) = image[lines[l] + steps[s]]) with packTableB and
   * packEdgeB and compare with the layout gemm-module.ts reads: sliver t, step p, line r at
   * (t·kc + p)·R + r.
   */
  function packAndCheck(dtype: FloatDType, lines: number[], steps: number[], flags: boolean): void {
    const rt = wasmRuntime(dtype);
    const E = rt.elementBytes;
    const R = (16 / E) * rt.tile.nv; // NR
    const ex = convExports(rt);
    const imageFloats = 4096;
    const image = 4096;
    const linesAt = image + imageFloats * E;
    const stepsAt = linesAt + 4 * lines.length;
    const dst = stepsAt + 4 * steps.length + 64;
    const slivers = Math.floor(lines.length / R);
    const rest = lines.length - slivers * R;
    expect(rt.reserve(dst + (slivers + 1) * steps.length * R * E)).toBe(true);
    const mem = rt.elements();
    const words = new Int32Array(rt.memory.buffer);
    for (let i = 0; i < imageFloats; i++) mem[image / E + i] = i + 0.5;
    words.set(lines.map((l) => l * E), linesAt / 4);
    const stepWords = steps.map((s, p) => {
      const adjacent = flags && p + 16 / E <= steps.length && Array.from({ length: 16 / E }, (_, i) => steps[p + i] === s + i).every(Boolean);
      return s * E + (adjacent ? 1 : 0);
    });
    words.set(stepWords, stepsAt / 4);
    const kc = steps.length;
    if (slivers > 0) ex.packTableB(dst, image, linesAt, stepsAt, kc, slivers);
    if (rest > 0) ex.packEdgeB(dst + slivers * kc * R * E, image, linesAt + 4 * slivers * R, stepsAt, kc, rest);
    const out = rt.elements();
    for (let t = 0; t <= slivers - (rest > 0 ? 0 : 1); t++) {
      for (let p = 0; p < kc; p++) {
        for (let r = 0; r < R; r++) {
          const l = t * R + r;
          const want = l < lines.length ? lines[l]! + steps[p]! + 0.5 : 0;
          const got = out[dst / E + (t * kc + p) * R + r];
          if (got !== want) expect.fail(`${dtype}: sliver ${t}, step ${p}, line ${r}: ${got}, expected ${want}`);
        }
      }
    }
  }

  for (const dtype of ['float32', 'float64'] as const) {
    it(`adjacent lines (runs), flagged adjacent steps (transposes) and single numbers (${dtype})`, () => {
      const rng = mulberry32(dtype === 'float32' ? 1 : 2);
      const run = (start: number, n: number) => Array.from({ length: n }, (_, i) => start + i);
      // Lines in runs (one image row), then scattered; steps in runs with gaps, or scattered.
      const lines = [...run(0, 16), ...run(40, 8), 100, 3, 77, 5, ...run(200, 13)];
      const adjacentSteps = [...run(300, 9), ...run(500, 4), 700, ...run(800, 7)];
      const scattered = Array.from({ length: 23 }, () => Math.floor(rng() * 3000));
      for (const steps of [adjacentSteps, scattered]) {
        for (const flags of [true, false]) packAndCheck(dtype, lines, steps, flags);
      }
    });
  }
});
