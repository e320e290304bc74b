/**
 * Scratch: is a float64 SIMD kernel worth it? An f64x2 micro-kernel (4 rows × 4 columns, two
 * f64x2 per row: 8 accumulators) emitted with the same emitter, on operands packed once, vs
 * the pure-TypeScript float64 matmul. Kernel time only for wasm (packing excluded, so this is
 * an upper bound on what a float64 wasm path could gain). Run after `npm run build`.
 */
import { FunctionBuilder, I32, ModuleBuilder, V128 } from '../../dist/kernels/wasm/emitter.js';
import { cpuBackend } from '../../dist/kernels/cpu/index.js';

const MR = 4, NV = 2, NR = 2 * NV;
const f = new FunctionBuilder('tile', [I32, I32, I32, I32, I32]);
const [kc, a, b, c, ldc] = [0, 1, 2, 3, 4];
const acc = Array.from({ length: MR }, () => Array.from({ length: NV }, () => f.local(V128)));
const bv = Array.from({ length: NV }, () => f.local(V128));
const av = f.local(V128);
f.loop();
for (let v = 0; v < NV; v++) f.localGet(b).v128Load(16 * v).localSet(bv[v]);
for (let i = 0; i < MR; i++) {
  f.localGet(a).v128Load64Splat(8 * i).localSet(av);
  for (let v = 0; v < NV; v++) f.localGet(acc[i][v]).localGet(av).localGet(bv[v]).f64x2Mul().f64x2Add().localSet(acc[i][v]);
}
f.localGet(a).i32Const(8 * MR).i32Add().localSet(a);
f.localGet(b).i32Const(8 * NR).i32Add().localSet(b);
f.localGet(kc).i32Const(1).i32Sub().localTee(kc).brIf(0);
f.end();
for (let i = 0; i < MR; i++) {
  for (let v = 0; v < NV; v++) f.localGet(c).localGet(c).v128Load(16 * v).localGet(acc[i][v]).f64x2Add().v128Store(16 * v);
  f.localGet(c).localGet(ldc).i32Add().localSet(c);
}
const m = new ModuleBuilder({ initialPages: 256, maximumPages: 1024, shared: false });
m.add(f);
const memory = new WebAssembly.Memory({ initial: 256, maximum: 1024 });
const { tile } = new WebAssembly.Instance(new WebAssembly.Module(m.build()), { env: { memory } }).exports;

const n = 512;
const A = new Float64Array(n * n).map(() => Math.random() - 0.5);
const B = new Float64Array(n * n).map(() => Math.random() - 0.5);
const f64 = new Float64Array(memory.buffer);
// Pack whole K (no K blocking: n = 512 fits the caches well enough for an upper bound).
const aAt = 0, bAt = n * n, cAt = 2 * n * n;
for (let it = 0; it < n / MR; it++) for (let p = 0; p < n; p++) for (let r = 0; r < MR; r++) f64[aAt + it * n * MR + p * MR + r] = A[(it * MR + r) * n + p];
for (let jt = 0; jt < n / NR; jt++) for (let p = 0; p < n; p++) for (let r = 0; r < NR; r++) f64[bAt + jt * n * NR + p * NR + r] = B[p * n + jt * NR + r];
function wasmKernel() {
  f64.fill(0, cAt, cAt + n * n);
  for (let jt = 0; jt < n / NR; jt++) for (let it = 0; it < n / MR; it++) tile(n, 8 * (aAt + it * n * MR), 8 * (bAt + jt * n * NR), 8 * (cAt + it * MR * n + jt * NR), 8 * n);
}
const av2 = { data: A, shape: [n, n], strides: [n, 1], offset: 0 };
const bv2 = { data: B, shape: [n, n], strides: [n, 1], offset: 0 };
const time = (fn) => { const t = []; for (let i = 0; i < 7; i++) { const t0 = performance.now(); fn(); t.push(performance.now() - t0); } return t.sort((x, y) => x - y)[0]; };
for (let round = 0; round < 2; round++) {
  const tw = time(wasmKernel);
  const tc = time(() => cpuBackend.matmul(av2, bv2, 'float64'));
  console.log(`512³ float64: wasm f64x2 kernel ${(2 * n ** 3 / tw / 1e6).toFixed(1)} GFLOP/s, pure TS ${(2 * n ** 3 / tc / 1e6).toFixed(1)} GFLOP/s`);
}
const C = new Float64Array(memory.buffer, 8 * cAt, n * n);
const ref = cpuBackend.matmul(av2, bv2, 'float64');
let err = 0; for (let i = 0; i < n * n; i++) err = Math.max(err, Math.abs(C[i] - ref[i]));
console.log('max |wasm − TS| =', err);
