/**
 * Direct-loop reference implementations of conv2d (forward and both backward convolutions) and
 * max/avg pooling (forward and avg backward): the first CPU kernels of gradscope, kept verbatim
 * as the test oracle for the fast kernels in src/kernels/cpu/. They walk every
 * (output, input, weight) triple through closures — slow, but short enough to check by eye, and
 * they accumulate in float64 like the fast kernels.
 */
import { allocate, type DType, type TypedArray } from '../../src/tensor/dtype.js';
import { sizeOf, type Shape } from '../../src/tensor/shape.js';
import type { View } from '../../src/tensor/storage.js';
import {
  conv2dOutputShape,
  poolOutputShape,
  type AvgPoolGeometry,
  type Conv2dGeometry,
  type PoolGeometry,
} from '../../src/kernels/geometry.js';

// ---- convolution -------------------------------------------------------------------------

/** Visit every (output position, input position, weight position) triple of a convolution. */
function forEachTap(
  xShape: Shape,
  wShape: Shape,
  g: Conv2dGeometry,
  visit: (n: number, co: number, oh: number, ow: number, c: number, ih: number, iw: number, kh: number, kw: number) => void,
): void {
  const [N, , H, W] = xShape as [number, number, number, number];
  const [Cout, Cg, KH, KW] = wShape as [number, number, number, number];
  const [, , Ho, Wo] = conv2dOutputShape(xShape, wShape, g) as [number, number, number, number];
  for (let n = 0; n < N; n++)
    for (let co = 0; co < Cout; co++) {
      for (let oh = 0; oh < Ho; oh++)
        for (let ow = 0; ow < Wo; ow++)
          for (let c = 0; c < Cg; c++) {
            for (let kh = 0; kh < KH; kh++) {
              const ih = oh * g.stride[0] - g.padding[0] + kh * g.dilation[0];
              if (ih < 0 || ih >= H) continue;
              for (let kw = 0; kw < KW; kw++) {
                const iw = ow * g.stride[1] - g.padding[1] + kw * g.dilation[1];
                if (iw < 0 || iw >= W) continue;
                visit(n, co, oh, ow, c, ih, iw, kh, kw);
              }
            }
          }
    }
}

const at = (v: View, i0: number, i1: number, i2: number, i3: number) =>
  v.data[v.offset + i0 * v.strides[0]! + i1 * v.strides[1]! + i2 * v.strides[2]! + i3 * v.strides[3]!]!;

function groupInput(co: number, c: number, wShape: Shape, g: Conv2dGeometry): number {
  return Math.floor(co / (wShape[0]! / g.groups)) * wShape[1]! + c;
}

export function conv2d(x: View, w: View, g: Conv2dGeometry, dtype: DType): TypedArray {
  const outShape = conv2dOutputShape(x.shape, w.shape, g);
  const [, C, Ho, Wo] = outShape as [number, number, number, number];
  const acc = new Float64Array(sizeOf(outShape));
  forEachTap(x.shape, w.shape, g, (n, co, oh, ow, c, ih, iw, kh, kw) => {
    acc[((n * C + co) * Ho + oh) * Wo + ow] += at(x, n, groupInput(co, c, w.shape, g), ih, iw) * at(w, co, c, kh, kw);
  });
  const out = allocate(dtype, acc.length);
  out.set(acc);
  return out;
}

export function conv2dBackwardInput(gy: View, w: View, inputShape: Shape, g: Conv2dGeometry, dtype: DType): TypedArray {
  const [, Cin, H, W] = inputShape as [number, number, number, number];
  const acc = new Float64Array(sizeOf(inputShape));
  forEachTap(inputShape, w.shape, g, (n, co, oh, ow, c, ih, iw, kh, kw) => {
    acc[((n * Cin + groupInput(co, c, w.shape, g)) * H + ih) * W + iw] += at(gy, n, co, oh, ow) * at(w, co, c, kh, kw);
  });
  const out = allocate(dtype, acc.length);
  out.set(acc);
  return out;
}

export function conv2dBackwardWeight(x: View, gy: View, weightShape: Shape, g: Conv2dGeometry, dtype: DType): TypedArray {
  const [, Cg, KH, KW] = weightShape as [number, number, number, number];
  const acc = new Float64Array(sizeOf(weightShape));
  forEachTap(x.shape, weightShape, g, (n, co, oh, ow, c, ih, iw, kh, kw) => {
    acc[((co * Cg + c) * KH + kh) * KW + kw] += at(x, n, groupInput(co, c, weightShape, g), ih, iw) * at(gy, n, co, oh, ow);
  });
  const out = allocate(dtype, acc.length);
  out.set(acc);
  return out;
}

// ---- pooling -----------------------------------------------------------------------------

/**
 * Call visit(o, plane, h, w) for every output position o (flat, row-major over
 * [N, C, Ho, Wo]) and every input position (h, w) of its window inside the unpadded input.
 * `start(o)` is called before each window; `count` is the number of window positions
 * including padding.
 */
function forEachWindow(
  shape: Shape,
  g: PoolGeometry,
  start: (o: number, plane: number) => void,
  visit: (o: number, plane: number, h: number, w: number) => void,
): void {
  const [N, C, H, W] = shape as [number, number, number, number];
  const [, , Ho, Wo] = poolOutputShape(shape, g) as [number, number, number, number];
  let o = 0;
  for (let plane = 0; plane < N * C; plane++)
    for (let oh = 0; oh < Ho; oh++)
      for (let ow = 0; ow < Wo; ow++, o++) {
        start(o, plane);
        for (let kh = 0; kh < g.kernel[0]; kh++) {
          const h = oh * g.stride[0] - g.padding[0] + kh * g.dilation[0];
          if (h < 0 || h >= H) continue;
          for (let kw = 0; kw < g.kernel[1]; kw++) {
            const w = ow * g.stride[1] - g.padding[1] + kw * g.dilation[1];
            if (w < 0 || w >= W) continue;
            visit(o, plane, h, w);
          }
        }
      }
}

const planeAt = (v: View, plane: number, h: number, w: number) => {
  const C = v.shape[1]!;
  const n = Math.floor(plane / C);
  const c = plane - n * C;
  return v.data[v.offset + n * v.strides[0]! + c * v.strides[1]! + h * v.strides[2]! + w * v.strides[3]!]!;
};

export function maxPool2d(x: View, g: PoolGeometry, dtype: DType): { values: TypedArray; indices: Int32Array } {
  const outShape = poolOutputShape(x.shape, g);
  const values = allocate(dtype, sizeOf(outShape)).fill(-Infinity);
  const indices = new Int32Array(values.length);
  const W = x.shape[3]!;
  forEachWindow(
    x.shape,
    g,
    () => {},
    (o, plane, h, w) => {
      const v = planeAt(x, plane, h, w);
      // NaN wins, as in PyTorch; otherwise the first maximum.
      if (v > values[o]! || (v !== v && values[o] === values[o])) {
        values[o] = v;
        indices[o] = h * W + w;
      }
    },
  );
  return { values, indices };
}

function windowCounts(shape: Shape, g: AvgPoolGeometry): Float64Array {
  const [, , H, W] = shape as [number, number, number, number];
  const [, , Ho, Wo] = poolOutputShape(shape, g) as [number, number, number, number];
  const counts = new Float64Array(Ho * Wo);
  for (let oh = 0; oh < Ho; oh++)
    for (let ow = 0; ow < Wo; ow++) {
      if (g.countIncludePad) {
        // PyTorch counts padded positions but not those beyond the padded input.
        const h0 = oh * g.stride[0] - g.padding[0];
        const w0 = ow * g.stride[1] - g.padding[1];
        const h1 = Math.min(h0 + g.kernel[0], H + g.padding[0]);
        const w1 = Math.min(w0 + g.kernel[1], W + g.padding[1]);
        counts[oh * Wo + ow] = (h1 - h0) * (w1 - w0);
      } else {
        let n = 0;
        for (let kh = 0; kh < g.kernel[0]; kh++)
          for (let kw = 0; kw < g.kernel[1]; kw++) {
            const h = oh * g.stride[0] - g.padding[0] + kh;
            const w = ow * g.stride[1] - g.padding[1] + kw;
            if (h >= 0 && h < H && w >= 0 && w < W) n++;
          }
        counts[oh * Wo + ow] = n;
      }
    }
  return counts;
}

export function avgPool2d(x: View, g: AvgPoolGeometry, dtype: DType): TypedArray {
  const outShape = poolOutputShape(x.shape, g);
  const spatial = outShape[2]! * outShape[3]!;
  const acc = new Float64Array(sizeOf(outShape));
  forEachWindow(x.shape, g, () => {}, (o, plane, h, w) => (acc[o] += planeAt(x, plane, h, w)));
  const counts = windowCounts(x.shape, g);
  const out = allocate(dtype, acc.length);
  for (let o = 0; o < acc.length; o++) out[o] = acc[o]! / counts[o % spatial]!;
  return out;
}

export function avgPool2dBackward(gy: View, inputShape: Shape, g: AvgPoolGeometry, dtype: DType): TypedArray {
  const [, , H, W] = inputShape as [number, number, number, number];
  const [, , Ho, Wo] = poolOutputShape(inputShape, g) as [number, number, number, number];
  const counts = windowCounts(inputShape, g);
  const acc = new Float64Array(sizeOf(inputShape));
  const gyAt = (o: number) => {
    const plane = Math.floor(o / (Ho * Wo));
    const r = o - plane * Ho * Wo;
    return planeAt(gy, plane, Math.floor(r / Wo), r % Wo) / counts[r]!;
  };
  forEachWindow(inputShape, g, () => {}, (o, plane, h, w) => (acc[(plane * H + h) * W + w] += gyAt(o)));
  const out = allocate(dtype, acc.length);
  out.set(acc);
  return out;
}
