/**
 * The engine settings recorded beside every saved result (engine-settings.ts): the wasm threads
 * asked for are among them once there are more than one (a convolution's weight gradient is
 * summed in K partitions, four per thread), and files without them — one thread, or saved
 * before threads changed results — still read and compare as before.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { checkEngineSettings, describeEngine, engineSettings, sameEngine } from '../../packages/lab/src/experiments/engine-settings.js';
import { currentBackendInfo } from '../../src/kernels/registry.js';
import { requestedWasmThreads, setWasmThreads, wasmRuntime } from '../../src/kernels/wasm/index.js';

const fail = (message: string): never => {
  throw new Error(message);
};
const canThread =
  currentBackendInfo().name === 'wasm' && wasmRuntime().shared && typeof (globalThis as { process?: { getBuiltinModule?: unknown } }).process?.getBuiltinModule === 'function';

afterEach(async () => {
  await setWasmThreads(1);
});

describe('engine settings and wasm threads', () => {
  it('one thread: three fields, as every earlier file has', () => {
    expect(requestedWasmThreads()).toBe(1);
    expect(Object.keys(engineSettings()).sort()).toEqual(['backend', 'defaultDType', 'fma']);
  });

  it.skipIf(!canThread)('two threads asked for: recorded, compared and described', async () => {
    const one = engineSettings();
    const starting = setWasmThreads(2);
    // Recorded from the call on, before the workers are ready: the results follow it from then.
    const two = engineSettings();
    await starting;
    expect(two).toEqual({ ...one, threads: 2 });
    expect(sameEngine(one, two)).toBe(false);
    expect(sameEngine(two, engineSettings())).toBe(true);
    expect(describeEngine(two)).toMatch(/, 2 threads\)$/);
    expect(describeEngine(one)).not.toMatch(/threads/);
  });

  it('reads files with and without threads, and refuses a thread count that is not an integer ≥ 2', () => {
    const base = { backend: 'gradscope-wasm', fma: true, defaultDType: 'float32' };
    expect(checkEngineSettings(base, 'engine', fail)).toEqual(base);
    expect(checkEngineSettings({ ...base, threads: 2 }, 'engine', fail)).toEqual({ ...base, threads: 2 });
    expect(sameEngine(checkEngineSettings(base, 'engine', fail), { ...base, threads: 2 } as never)).toBe(false);
    for (const threads of [1, 2.5, '2', null]) {
      expect(() => checkEngineSettings({ ...base, threads }, 'engine', fail), String(threads)).toThrow(/"threads": an integer ≥ 2/);
    }
    expect(() => checkEngineSettings({ ...base, threads: 2, extra: 1 }, 'engine', fail)).toThrow(/engine is/);
  });
});
