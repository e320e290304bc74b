/**
 * gpu.js is an optional peer dependency, and the GPU.js backend's kernels are optional too: the
 * main entry imports both by specifiers no bundler can see, and a browser bundle brings them in
 * with `provideGpuJs` from 'gradscope/gpu'. The case where gpu.js is not installed at all is
 * checked by the consumer test (test/consumer/), in a project without it.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as gpujs from 'gpu.js';
import { afterAll, describe, expect, it } from 'vitest';
import { ValueError } from '../../src/index.js';
import { provideGpuJs } from '../../src/gpu/index.js';
import { loadedGpuJsModule, loadGpuJsModule } from '../../src/kernels/gpu/provide.js';

const root = new URL('../../', import.meta.url).pathname;
const source = (file: string) => join(root, 'src', file);

async function bundle(contents: string, platform: 'browser' | 'node') {
  const { build } = await import('esbuild');
  return build({
    stdin: { contents, resolveDir: root, loader: 'js' },
    bundle: true,
    splitting: false,
    format: 'esm',
    platform,
    external: ['gpu.js'],
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
}

describe('provideGpuJs (gradscope/gpu)', () => {
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

  it('an unsplit bundle of the main entry carries neither gpu.js nor the GPU.js kernels; one with gradscope/gpu carries the kernels', async () => {
    const inputs = async (contents: string) => Object.keys((await bundle(contents, 'browser')).metafile.inputs);
    const main = await inputs(`export * from ${JSON.stringify(source('index.ts'))};`);
    expect(main.filter((f) => f.includes('node_modules/'))).toEqual([]);
    expect(main.filter((f) => /src\/kernels\/gpu\/(index|ops|kernels)\.ts$/.test(f))).toEqual([]);
    const withGpu = await inputs(`export * from ${JSON.stringify(source('index.ts'))}; export * from ${JSON.stringify(source('gpu/index.ts'))};`);
    expect(withGpu.some((f) => f.endsWith('src/kernels/gpu/index.ts'))).toBe(true);
    expect(withGpu.filter((f) => f.includes('node_modules/'))).toEqual([]);
  });

  describe('in a bundle, run', () => {
    // Inside the repository, so that the bundle's import of 'gpu.js' finds node_modules.
    const scratch = join(root, 'node_modules', '.cache');
    mkdirSync(scratch, { recursive: true });
    const dir = mkdtempSync(join(scratch, 'gpu-bundle-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    async function run(contents: string): Promise<string> {
      const result = await bundle(contents, 'node');
      const file = join(dir, `bundle-${Math.random().toString(36).slice(2)}.mjs`);
      writeFileSync(file, result.outputFiles[0]!.contents);
      return execFileSync(process.execPath, [file], { encoding: 'utf8', env: { ...process.env, GRADSCOPE_GPU_MODE: 'cpu' } }).trim();
    }
    const main = JSON.stringify(source('index.ts'));

    it("selects 'gpu' once provideGpuJs has brought the kernels in", async () => {
      const out = await run(
        `import * as gpujs from 'gpu.js'; import { useBackend, currentBackendInfo, tensor } from ${main};` +
          `import { provideGpuJs } from ${JSON.stringify(source('gpu/index.ts'))};` +
          `provideGpuJs(gpujs); await useBackend('gpu');` +
          `console.log(currentBackendInfo().label, tensor([[1, 2]]).matmul(tensor([[3], [4]])).item());`,
      );
      expect(out).toBe('gradscope-gpujs-cpu 11');
    });

    it("without gradscope/gpu, useBackend('gpu') says to import it, and the backend stays usable", async () => {
      const out = await run(
        `import { useBackend, currentBackendInfo, tensor } from ${main};` +
          `const message = await useBackend('gpu').then(() => 'resolved', (e) => e.message);` +
          `console.log(JSON.stringify([message, currentBackendInfo().name, tensor([1.5, 2.5]).sum().item()]));`,
      );
      const [message, backend, sum] = JSON.parse(out) as [string, string, number];
      expect(message).toMatch(/^useBackend\('gpu'\): the GPU\.js backend's kernels could not be imported \(.*\); in a browser bundle, import \{ provideGpuJs \} from 'gradscope\/gpu'/);
      expect([backend, sum]).toEqual(['wasm', 4]);
    });
  });
});
