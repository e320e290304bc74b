/**
 * Optional extra rows: gradscope on its GPU.js backend, for the matmul and conv rows only.
 * Used when the engine offers one, skipped when it does not (it is an extra, not a peer).
 *
 * The backend is the registry's 'gpu', loaded with `loadBackend('gpu')` (gpu.js, an optional
 * peer dependency, is imported only then; without it the rows are skipped with the reason).
 * The label is `gradscope-gpujs-<mode>`, with the GPU.js mode the kernels actually ran in (the
 * backend's `mode`), read after the rows ran — GPU.js settles its mode per compiled kernel.
 */
import * as gradscope from 'gradscope';
import type { Backend } from 'gradscope';
import { gradscopeBuilders } from './gradscope-rows.js';
import type { Impl } from './impl.js';

async function findGpuBackendName(): Promise<string | null> {
  const listed = gradscope.listBackends().find((name) => name.startsWith('gpu'));
  if (listed === undefined) return null;
  await gradscope.loadBackend(listed);
  return listed;
}

/** The current backend's label: 'gradscope-gpujs-<mode>' ('auto' if it does not say). */
function label(): string {
  const info = gradscope.currentBackendInfo();
  if (info.label.startsWith('gradscope-gpujs-')) return info.label;
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
