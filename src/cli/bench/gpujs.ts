/**
 * Optional extra rows: gradscope on its GPU.js backend, for the matmul and conv rows only.
 * Used when the engine offers one, skipped when it does not (it is an extra, not a peer).
 *
 * How the backend is found, in order:
 *   1. a backend listed by `listBackends()` whose name starts with 'gpu', loaded with
 *      `loadBackend(name)` where the registry loads backends lazily (gpu.js is imported only
 *      on first use);
 *   2. a module kernels/gpu/index.js exporting `createGpuBackend()`, registered here.
 * The label is `gradscope-gpujs-<mode>`, with the GPU.js mode the kernels actually ran in (the
 * backend's `mode`), read after the rows ran — GPU.js settles its mode per compiled kernel.
 */
import * as gradscope from '../../index.js';
import type { Backend } from '../../index.js';
import * as registry from '../../kernels/registry.js';
import { gradscopeBuilders } from './gradscope-rows.js';
import type { Impl } from './impl.js';

/**
 * Registry functions of engines with lazily loaded backends; looked up at run time so this
 * file builds against registries with or without them.
 */
interface LazyRegistry {
  loadBackend?: (name: string) => Promise<Backend>;
  currentBackendInfo?: () => { name: string; mode?: string; label: string };
}
const lazy = registry as unknown as LazyRegistry;

/** Resolved at run time, so the build does not depend on the GPU backend existing. */
const GPU_MODULE = '../../kernels/gpu/index.js';

async function findGpuBackendName(): Promise<string | null> {
  const listed = gradscope.listBackends().find((name) => name.startsWith('gpu'));
  if (listed) {
    if (lazy.loadBackend) await lazy.loadBackend(listed);
    return listed;
  }
  const module = (await import(GPU_MODULE)) as { createGpuBackend?: () => Backend };
  if (typeof module.createGpuBackend !== 'function') return null;
  const backend = module.createGpuBackend();
  gradscope.registerBackend(backend);
  return backend.name;
}

/** The current backend's label: 'gradscope-gpujs-<mode>' ('auto' if it does not say). */
function label(): string {
  const info = lazy.currentBackendInfo?.();
  if (info?.label.startsWith('gradscope-gpujs-')) return info.label;
  const mode = (gradscope.getBackend() as Backend & { mode?: unknown }).mode;
  return `gradscope-gpujs-${typeof mode === 'string' && mode ? mode : 'auto'}`;
}

/**
 * gradscope on its GPU.js backend, or null when there is none or it does not start; `why`
 * receives the reason in the second case.
 */
export async function gpujsImpl(why: (reason: string) => void = () => {}): Promise<Impl | null> {
  const previous = gradscope.getBackend().name;
  let name: string | null;
  try {
    name = await findGpuBackendName();
  } catch (error) {
    const missing = (error as { code?: string }).code === 'ERR_MODULE_NOT_FOUND';
    if (!missing) why((error as Error).message.split('\n')[0]!);
    return null;
  }
  if (!name) return null;
  const backend = name;
  try {
    gradscope.setBackend(backend);
  } catch (error) {
    why((error as Error).message.split('\n')[0]!);
    return null;
  } finally {
    gradscope.setBackend(previous);
  }
  return {
    name: 'gradscope-gpujs',
    kinds: ['matmul', 'conv'],
    activate: async () => gradscope.setBackend(backend),
    builders: gradscopeBuilders,
    nameAfterRun: label,
  };
}
