/**
 * GRADSCOPE_THREADS=n (Node): start the wasm backend's n threads when gradscope is imported, as
 * `setWasmThreads(n)` would (a failure only warns). The package index imports this module for
 * that effect alone; the package declares no side effects, so a browser bundle — where there is
 * no environment to read — drops it, and with it the threads' code unless it calls
 * setWasmThreads itself.
 */
import { readEnv } from '../gpu/env.js';
import { wasmUnavailableReason } from './index.js';
import { wasmRuntime } from './runtime.js';
import { startThreadsFromEnv } from './threads.js';

if (readEnv('GRADSCOPE_THREADS') !== undefined && wasmUnavailableReason() === null) {
  const warn = (message: string) => console.warn(message);
  try {
    startThreadsFromEnv(wasmRuntime, warn);
  } catch (error) {
    // GRADSCOPE_THREADS without the memory to run threads in: one thread (or cpu) it is.
    warn(`gradscope: GRADSCOPE_THREADS=${readEnv('GRADSCOPE_THREADS')}: ${(error as Error).message}`);
  }
}
