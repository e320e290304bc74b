/**
 * The gpu.js classes the backend uses, typed, from the module provide.ts loaded. Kept apart
 * from provide.ts because these signatures name gpu.js's types, which only this backend's own
 * files (never the engine's public declarations) may mention.
 */
import type { GPU, Input } from 'gpu.js';
import { ValueError } from '../../tensor/errors.js';
import { loadedGpuJsModule } from './provide.js';

/** The part of the gpu.js module the backend uses. */
export interface GpuJs {
  GPU: typeof GPU;
  Input: typeof Input;
}

/** The loaded gpu.js module; throws when nothing has loaded it yet. */
export function gpuJs(): GpuJs {
  const module = loadedGpuJsModule();
  if (module === undefined) {
    throw new ValueError(`createGpuBackend: gpu.js is not loaded; use \`await useBackend('gpu')\` (which loads it), or call provideGpuJs(gpujs) first`);
  }
  return module as GpuJs;
}
