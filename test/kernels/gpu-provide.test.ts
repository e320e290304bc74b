/**
 * gpu.js is an optional peer dependency: the engine imports it by a name no bundler can see, or
 * takes the module from provideGpuJs (browser bundles). The case where gpu.js is not installed
 * at all is checked by the consumer test (test/consumer/), in a project without it.
 */
import * as gpujs from 'gpu.js';
import { describe, expect, it } from 'vitest';
import { provideGpuJs, ValueError } from '../../src/index.js';
import { loadedGpuJsModule, loadGpuJsModule } from '../../src/kernels/gpu/provide.js';

describe('provideGpuJs', () => {
  it('refuses anything that is not the gpu.js module, naming the op and what it got', () => {
    expect(() => provideGpuJs({} as never)).toThrow(ValueError);
    expect(() => provideGpuJs({ GPU: 1, Input: 2 })).toThrow(/^provideGpuJs: expected the gpu\.js module \(an object with the GPU and Input classes\); got an object with keys \[GPU, Input\]/);
    expect(() => provideGpuJs(null as never)).toThrow(/got null/);
  });

  it('accepts the namespace or its default export, and useBackend then uses that module', async () => {
    provideGpuJs({ default: gpujs } as never);
    expect(loadedGpuJsModule()).toBe(gpujs);
    provideGpuJs(gpujs);
    expect(await loadGpuJsModule()).toBe(gpujs);
  });

  it('an unsplit bundle of the engine carries none of gpu.js (it is imported by a name bundlers leave alone)', async () => {
    const { build } = await import('esbuild');
    const entry = new URL('../../src/index.ts', import.meta.url).pathname;
    const result = await build({ entryPoints: [entry], bundle: true, splitting: false, format: 'esm', platform: 'browser', write: false, metafile: true, logLevel: 'silent' });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((f) => f.includes('src/kernels/gpu/index.ts')), 'the GPU.js backend itself is ours and bundled').toBe(true);
    expect(inputs.filter((f) => f.includes('node_modules/'))).toEqual([]);
  });
});
