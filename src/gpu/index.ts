/**
 * gradscope's GPU.js backend for browser bundles (import from 'gradscope/gpu').
 *
 * In Node nothing here is needed: `await useBackend('gpu')` imports gpu.js and the backend's
 * kernels on first use. A bundle cannot follow those run-time imports (the main entry keeps them
 * out of sight so that a bundle without the GPU carries neither gpu.js nor the kernels, ≈ 3 KiB
 * gzipped), so a page that wants the GPU imports both here and hands gpu.js over:
 *
 *   import * as gpujs from 'gpu.js';
 *   import { provideGpuJs } from 'gradscope/gpu';
 *   import { useBackend } from 'gradscope';
 *   provideGpuJs(gpujs);
 *   await useBackend('gpu');
 * @module
 */
import { registerBackendFactory } from '../kernels/registry.js';
import { createGpuBackend } from '../kernels/gpu/index.js';
import { provideGpuJsModule } from '../kernels/gpu/provide.js';

export { GPU_JS_VERSION } from '../kernels/gpu/provide.js';

/**
 * Hand gradscope the gpu.js module (its namespace or its default export) and this bundle's
 * GPU.js kernels for the 'gpu' backend. Call it before the first `useBackend('gpu')`. Throws a
 * ValueError for anything that is not the gpu.js module.
 * @example import * as gpujs from 'gpu.js'; provideGpuJs(gpujs); await useBackend('gpu');
 */
export function provideGpuJs(module: { GPU: unknown; Input: unknown } | { default: { GPU: unknown; Input: unknown } }): void {
  provideGpuJsModule(module);
  registerBackendFactory('gpu', async () => createGpuBackend());
}
