/**
 * The settings that decide a run's floating-point results, recorded in every saved task
 * output and results.json so that a resume or skip reuses only numbers computed the same way
 * (issue 14, D12): the kernels' backend (its label, with the GPU.js mode), whether the
 * WebAssembly GEMM fuses multiply-adds (relaxed SIMD: float32 products round differently),
 * and the default float dtype of tensors created without one.
 */
import { currentBackendInfo, type FloatDType, getDefaultDType, relaxedSimdAvailable } from 'gradscope';

export interface EngineSettings {
  /** `currentBackendInfo().label`, e.g. 'gradscope-wasm', 'gradscope-gpujs-webasm'. */
  backend: string;
  /** The WebAssembly backend's GEMM uses fused multiply-adds (false for every other backend). */
  fma: boolean;
  defaultDType: FloatDType;
}

/** This thread's settings now (workers select the same backend before their first task). */
export function engineSettings(): EngineSettings {
  const info = currentBackendInfo();
  return { backend: info.label, fma: info.name === 'wasm' && relaxedSimdAvailable(), defaultDType: getDefaultDType() };
}

export function sameEngine(a: EngineSettings, b: EngineSettings): boolean {
  return a.backend === b.backend && a.fma === b.fma && a.defaultDType === b.defaultDType;
}

/** One line for messages and the report: "gradscope-wasm (fma, float32 default)". */
export function describeEngine(e: EngineSettings): string {
  return `${e.backend} (${e.fma ? 'fma' : 'no fma'}, ${e.defaultDType} default)`;
}

/** Validate a parsed EngineSettings; `fail` names the field. */
export function checkEngineSettings(v: unknown, field: string, fail: (message: string) => never): EngineSettings {
  const o = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
  if (typeof o.backend !== 'string' || typeof o.fma !== 'boolean' || (o.defaultDType !== 'float32' && o.defaultDType !== 'float64') || Object.keys(o).length !== 3) {
    fail(`${field} is ${JSON.stringify(v)}; expected {"backend": string, "fma": boolean, "defaultDType": "float32" | "float64"}`);
  }
  return { backend: o.backend as string, fma: o.fma as boolean, defaultDType: o.defaultDType as FloatDType };
}
