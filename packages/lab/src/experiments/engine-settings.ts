/**
 * The settings that decide a run's floating-point results, recorded in every saved task
 * output and results.json so that a resume or skip reuses only numbers computed the same way
 * (issue 14, D12): the kernels' backend (its label, with the GPU.js mode), whether the
 * WebAssembly GEMM fuses multiply-adds (relaxed SIMD: float32 products round differently),
 * the default float dtype of tensors created without one, and the wasm threads asked for (a
 * convolution's weight gradient is summed in K partitions, four per thread). `threads` is
 * written only when it is more than 1, so that the settings of a one-thread run — and every
 * file saved before threads changed results — read as before.
 */
import { currentBackendInfo, type FloatDType, getDefaultDType, relaxedSimdAvailable, requestedWasmThreads } from 'gradscope';

export interface EngineSettings {
  /** `currentBackendInfo().label`, e.g. 'gradscope-wasm', 'gradscope-gpujs-webasm'. */
  backend: string;
  /** The WebAssembly backend's GEMM uses fused multiply-adds (false for every other backend). */
  fma: boolean;
  defaultDType: FloatDType;
  /** The wasm backend's requested threads (`requestedWasmThreads`), where more than 1. */
  threads?: number;
}

/** This thread's settings now (workers select the same backend before their first task). */
export function engineSettings(): EngineSettings {
  const info = currentBackendInfo();
  const threads = info.name === 'wasm' ? requestedWasmThreads() : 1;
  return { backend: info.label, fma: info.name === 'wasm' && relaxedSimdAvailable(), defaultDType: getDefaultDType(), ...(threads > 1 && { threads }) };
}

export function sameEngine(a: EngineSettings, b: EngineSettings): boolean {
  return a.backend === b.backend && a.fma === b.fma && a.defaultDType === b.defaultDType && (a.threads ?? 1) === (b.threads ?? 1);
}

/** One line for messages and the report: "gradscope-wasm (fma, float32 default)", ", 2 threads" where more than one. */
export function describeEngine(e: EngineSettings): string {
  return `${e.backend} (${e.fma ? 'fma' : 'no fma'}, ${e.defaultDType} default${e.threads ? `, ${e.threads} threads` : ''})`;
}

/** Validate a parsed EngineSettings; `fail` names the field. */
export function checkEngineSettings(v: unknown, field: string, fail: (message: string) => never): EngineSettings {
  const o = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
  const hasThreads = o.threads !== undefined;
  const threadsValid = !hasThreads || (Number.isInteger(o.threads) && (o.threads as number) >= 2);
  if (typeof o.backend !== 'string' || typeof o.fma !== 'boolean' || (o.defaultDType !== 'float32' && o.defaultDType !== 'float64') || !threadsValid || Object.keys(o).length !== (hasThreads ? 4 : 3)) {
    fail(`${field} is ${JSON.stringify(v)}; expected {"backend": string, "fma": boolean, "defaultDType": "float32" | "float64"} and, where more than one, "threads": an integer ≥ 2`);
  }
  return { backend: o.backend as string, fma: o.fma as boolean, defaultDType: o.defaultDType as FloatDType, ...(hasThreads && { threads: o.threads as number }) };
}
