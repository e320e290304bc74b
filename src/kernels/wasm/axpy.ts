/**
 * The optimizer's in-place update `dst ← dst + α·src` (Tensor.add_ on two contiguous float32
 * tensors, Backend.addScaledInPlace) as f32x4 SIMD: both operands copied into the runtime's
 * memory, four lanes per multiply and add, the result copied back — or, where one of them is
 * resident (resident.ts), in the heap, that one read and written where it lives (placement.ts).
 *
 * Why WebAssembly: the scalar JavaScript loop (kernels/cpu/elementwise.ts, addScaledInPlace)
 * needs a Math.fround per element to round the product as float32 does, and runs at ≈ 3 ns an
 * element on this host — ≈ 1 ms for the 268 k parameters of a 784-256-256-10 MLP, 13 % of a
 * training step — while the three copies (TypedArray.set, a memcpy) and the vector loop take
 * ≈ 0.15 ms. Rounding is the same: f32x4.mul rounds the product to float32 and f32x4.add the
 * sum, exactly as `Math.fround(a·s)` and the store into a Float32Array do.
 */
import { F32, FunctionBuilder, I32, V128 } from './emitter.js';
import { Placement } from './placement.js';
import { kernelModule, type KernelMemory } from './runtime.js';

/** Below this many elements the scalar loop is cheaper than the copies (and not worth a call). */
export const WASM_AXPY_MIN_ELEMENTS = 4096;

/** Whether the wasm backend runs this update here: float32 operands of WASM_AXPY_MIN_ELEMENTS numbers or more. */
export function wasmAxpyApplies(dst: Float32Array | Float64Array, src: Float32Array | Float64Array, n: number): boolean {
  return dst instanceof Float32Array && src instanceof Float32Array && n >= WASM_AXPY_MIN_ELEMENTS;
}

/** `axpy(d, s, n, alpha)`: d[i] ← d[i] + alpha·s[i] for i < n, float32 at byte addresses d, s (16-byte aligned). */
function emitAxpy(): FunctionBuilder {
  const f = new FunctionBuilder('axpy', [I32, I32, I32, F32]);
  const [d, s, n, alpha] = [0, 1, 2, 3];
  const k = f.local(I32);
  const h = f.local(V128);
  f.localGet(alpha).f32x4Splat().localSet(h);
  // four numbers at a time …
  f.localGet(n).i32Const(2).i32ShrU().localSet(k);
  f.countedLoop(k, () => {
    f.localGet(d).localGet(d).v128Load().localGet(h).localGet(s).v128Load().f32x4Mul().f32x4Add().v128Store();
    f.bump(d, 16);
    f.bump(s, 16);
  });
  // … and the n mod 4 left over, one by one
  f.localGet(n).i32Const(3).i32And().localSet(k);
  f.countedLoop(k, () => {
    f.localGet(d).localGet(d).f32Load().localGet(alpha).localGet(s).f32Load().f32Mul().f32Add().f32Store();
    f.bump(d, 4);
    f.bump(s, 4);
  });
  return f;
}

interface AxpyExports {
  axpy(d: number, s: number, n: number, alpha: number): void;
}

const instances = new WeakMap<KernelMemory, AxpyExports>();
const axpyExports = (rt: KernelMemory) => kernelModule(instances, rt, () => [emitAxpy()]);

/**
 * `dst[dstOffset + i] ← dst[dstOffset + i] + alpha·src[srcOffset + i]` for i < n on the float32
 * runtime `rt` (or in the heap where one is resident); false (nothing written) when the memory
 * cannot hold both operands, and the caller runs the scalar loop. Bit for bit the scalar loop's
 * result.
 */
export function wasmAddScaledInPlace(rt: KernelMemory, dst: Float32Array, dstOffset: number, src: Float32Array, srcOffset: number, n: number, alpha: number): boolean {
  const p = new Placement(rt, [dst, src]);
  const [d, s] = [p.update({ data: dst, offset: dstOffset }, n), p.input({ data: src, offset: srcOffset }, n)];
  if (!p.ready()) return false;
  axpyExports(p.mem).axpy(d, s, n, alpha);
  p.finish();
  return true;
}
