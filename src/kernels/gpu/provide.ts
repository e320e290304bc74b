/**
 * Where the GPU.js backend gets the gpu.js module from. gpu.js is an optional peer dependency:
 * the engine never imports it by a name a bundler can see, so a bundle that does not split
 * dynamic imports still does not carry GPU.js (≈ 625 KiB) to pages that never use the GPU.
 *
 * - Node: `await useBackend('gpu')` imports 'gpu.js' by name on first use; when it is not
 *   installed, the error says how to install it.
 * - Browser bundles: a page resolves no bare names by itself, so it hands the module over first,
 *   with `provideGpuJs` from 'gradscope/gpu' (src/gpu/index.ts), which also brings the backend's
 *   kernels into the bundle.
 *
 * This file has no gpu.js types in its exported signatures, so the engine's declarations type
 * check in projects that do not install gpu.js.
 */
import { ValueError } from '../../tensor/errors.js';

/** The gpu.js version the GPU.js backend is tested with. */
export const GPU_JS_VERSION = '2.24.1';

/** The specifier, in a variable so that bundlers leave the import to run time. */
const GPU_JS = 'gpu.js';

let provided: object | undefined;

/** Keep the gpu.js module for loadGpuJsModule (gradscope/gpu's provideGpuJs). */
export function provideGpuJsModule(module: { GPU: unknown; Input: unknown } | { default: { GPU: unknown; Input: unknown } }): void {
  const found = exportsOf(module);
  if (found === null) {
    throw new ValueError(`provideGpuJs: expected the gpu.js module (an object with the GPU and Input classes); got ${describe(module)}`);
  }
  provided = found;
}

/** The gpu.js exports: the object itself, or its `default` (a CommonJS module seen from ESM). */
function exportsOf(module: unknown): object | null {
  const has = (m: unknown): m is { GPU: unknown; Input: unknown } =>
    typeof m === 'object' && m !== null && typeof (m as { GPU?: unknown }).GPU === 'function' && typeof (m as { Input?: unknown }).Input === 'function';
  if (has(module)) return module;
  const fallback = typeof module === 'object' && module !== null ? (module as { default?: unknown }).default : undefined;
  return has(fallback) ? fallback : null;
}

function describe(value: unknown): string {
  if (value === null || typeof value !== 'object') return String(value);
  return `an object with keys [${Object.keys(value).slice(0, 8).join(', ')}]`;
}

/**
 * The gpu.js module: the one handed to provideGpuJs, else an import of 'gpu.js' by name. Throws
 * a ValueError that says how to install gpu.js when neither works.
 */
export async function loadGpuJsModule(): Promise<object> {
  if (provided !== undefined) return provided;
  let imported: unknown;
  try {
    imported = await import(/* @vite-ignore */ GPU_JS);
  } catch (error) {
    throw new ValueError(
      `useBackend('gpu'): the GPU.js backend needs the optional peer dependency gpu.js, which could not be imported ` +
        `(${(error as Error).message.split('\n')[0]}); install it with \`npm install gpu.js@${GPU_JS_VERSION}\`, ` +
        `or in a browser bundle call provideGpuJs(gpujs) from 'gradscope/gpu' before useBackend('gpu')`,
    );
  }
  const found = exportsOf(imported);
  if (found === null) throw new ValueError(`useBackend('gpu'): the module 'gpu.js' has no GPU and Input classes; got ${describe(imported)}`);
  provided = found;
  return found;
}

/** The gpu.js module once loaded (by loadGpuJsModule or provideGpuJsModule), else undefined. */
export function loadedGpuJsModule(): object | undefined {
  return provided;
}
