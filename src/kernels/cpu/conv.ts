/**
 * conv2d and its two backward convolutions on the CPU — direct loops (the reference; the
 * im2col + packed GEMM version replaces the bodies, not the signatures).
 */
import { allocate, type DType, type TypedArray } from '../../tensor/dtype.js';
import { sizeOf, type Shape } from '../../tensor/shape.js';
import type { View } from '../../tensor/storage.js';
import { conv2dOutputShape, type Conv2dGeometry } from '../geometry.js';

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
