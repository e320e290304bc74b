/**
 * Threads for the wasm backend: products split over worker threads give the one-thread
 * results, and a worker that does not answer in time does not hang the caller — the main
 * thread computes the missing part, switches threads off and warns once. Where threads come
 * from (Node, a browser worker, or nowhere, with the reason) is checked on faked globals; the
 * browser path itself runs in test/browser/playground.e2e.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createWasmBackend, setWasmThreads, simdAvailable, wasmRuntime, wasmThreads } from '../../src/kernels/wasm/index.js';
import { threadPlatform } from '../../src/kernels/wasm/threads.js';
import { makeOperand } from './parity-cases.js';

const wasm = createWasmBackend();
const canThread = simdAvailable() && wasmRuntime().shared && typeof (globalThis as { process?: { getBuiltinModule?: unknown } }).process?.getBuiltinModule === 'function';

/** A product large enough to be split (≥ 2^21 multiply-adds), with a transposed operand. */
function product(): Float32Array {
  const a = makeOperand({ shape: [150, 130], order: [1, 0] }, 'float32', 'threads/a');
  const b = makeOperand({ shape: [130, 170] }, 'float32', 'threads/b');
  return wasm.matmul(a, b, 'float32') as Float32Array;
}

/** One large enough to be split even while the worker sleeps (≥ 2^21 multiply-adds a thread). */
function largeProduct(): Float32Array {
  const a = makeOperand({ shape: [300, 260] }, 'float32', 'threads/large-a');
  const b = makeOperand({ shape: [260, 340], order: [1, 0] }, 'float32', 'threads/large-b');
  return wasm.matmul(a, b, 'float32') as Float32Array;
}

afterEach(async () => {
  await setWasmThreads(1);
});

describe.skipIf(!canThread)('wasm threads', () => {
  it('rejects a thread count that is not a positive integer', async () => {
    await expect(setWasmThreads(0)).rejects.toThrow(/setWasmThreads: expected an integer from 1 to 33; got 0/);
    await expect(setWasmThreads(1.5)).rejects.toThrow(/got 1.5/);
  });

  it('two and three threads give exactly the one-thread product', async () => {
    const single = product();
    const large = largeProduct();
    for (const threads of [2, 3]) {
      await setWasmThreads(threads);
      expect(wasmThreads()).toBe(threads);
      // Each thread computes whole columns of C with the same kernel: bit-identical results.
      expect(Array.from(product())).toEqual(Array.from(single));
      expect(Array.from(largeProduct())).toEqual(Array.from(large));
    }
    await setWasmThreads(1);
    expect(wasmThreads()).toBe(1);
  });

  it('workers hung in start-up are replaced once, with one warning, and the fresh ones compute the product', async () => {
    const single = largeProduct();
    const warnings: string[] = [];
    const started = Date.now();
    await setWasmThreads(2, { startStallMs: 60_000, warn: (m) => warnings.push(m) });
    expect(Date.now() - started, 'waited for the hung worker, not for its sleep').toBeLessThan(10_000);
    expect(warnings).toEqual([expect.stringMatching(/1 of 1 wasm worker threads did not start within 2000 ms; starting fresh ones/)]);
    expect(wasmThreads()).toBe(2);
    expect(Array.from(largeProduct())).toEqual(Array.from(single));
    await setWasmThreads(1);
  });

  it('a worker that stalls: no product waits for it; once it has missed its jobs for the timeout, one warning and one thread', async () => {
    const single = largeProduct();
    const warnings: string[] = [];
    await setWasmThreads(2, { stallMs: 2000, timeoutMs: 50, warn: (m) => warnings.push(m) });
    expect(wasmThreads()).toBe(2);
    const started = Date.now();
    let products = 0;
    // The main thread claims every block itself and takes the untaken job back: correct
    // results at once, without waiting for the stalled worker.
    while (wasmThreads() === 2 && Date.now() - started < 1500) {
      expect(Array.from(largeProduct())).toEqual(Array.from(single));
      products++;
    }
    expect(Date.now() - started, 'did not wait for the stalled worker').toBeLessThan(1500);
    expect(products, 'several products ran before the timeout').toBeGreaterThan(1);
    expect(warnings).toEqual([expect.stringMatching(/a wasm worker thread did not answer within 50 ms; running on one thread from now on/)]);
    expect(wasmThreads()).toBe(1);
    // Later products run on one thread, correctly, without another warning.
    expect(Array.from(largeProduct())).toEqual(Array.from(single));
    expect(warnings).toHaveLength(1);
  });

  it('workers that sleep between jobs (no polling) still take them and give the one-thread product', async () => {
    const single = largeProduct();
    await setWasmThreads(2, { spinMs: 0 });
    for (let i = 0; i < 3; i++) {
      await new Promise((resolve) => setTimeout(resolve, 5)); // the worker is asleep by now
      expect(Array.from(largeProduct())).toEqual(Array.from(single));
    }
  });

  it('a worker that polls long between products keeps taking their jobs: none is missed for the timeout', async () => {
    // A worker whose loop failed (a thrown error in its body) would leave every job to the main
    // thread: the products would still be right, and only the timeout's warning would tell.
    const single = largeProduct();
    const warnings: string[] = [];
    await setWasmThreads(2, { spinMs: 5, timeoutMs: 1000, warn: (m) => warnings.push(m) });
    const started = Date.now();
    while (Date.now() - started < 1500) {
      expect(Array.from(largeProduct())).toEqual(Array.from(single));
      await new Promise((resolve) => setTimeout(resolve, 1)); // gaps within and past its spin
    }
    expect(warnings).toEqual([]);
    expect(wasmThreads()).toBe(2);
  });
});

describe('where threads come from', () => {
  it('Node: worker_threads through process.getBuiltinModule', () => {
    const scope = { process: { getBuiltinModule: (id: string) => (id === 'node:worker_threads' ? { Worker: class {} } : undefined) } };
    expect(typeof threadPlatform(scope)).toBe('function');
  });

  it("a page's main thread: refused, saying why and to use a Worker of a cross-origin-isolated page", () => {
    const reason = threadPlatform({ document: {}, crossOriginIsolated: true, Worker: class {} });
    expect(reason).toMatch(/not possible on a page's main thread \(browsers do not allow Atomics\.wait there\)/);
    expect(reason).toMatch(/run gradscope in a Worker of a cross-origin-isolated page/);
  });

  it('a dedicated worker of a page that is not cross-origin isolated: refused, naming the two headers', () => {
    const reason = threadPlatform({ DedicatedWorkerGlobalScope: class {}, crossOriginIsolated: false, Worker: class {} });
    expect(reason).toMatch(/Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp/);
  });

  it('neither Node nor a browser worker: refused', () => {
    expect(threadPlatform({})).toMatch(/need Node worker_threads .* or a browser dedicated Worker/);
  });

  it('a dedicated worker of an isolated page: a classic worker from a Blob URL, started by its first message', () => {
    const made: { url: string; posted: unknown[] }[] = [];
    const scripts: string[] = [];
    const scope = {
      DedicatedWorkerGlobalScope: class {},
      crossOriginIsolated: true,
      Blob: class {
        constructor(parts: string[], options: { type: string }) {
          expect(options.type).toBe('text/javascript');
          scripts.push(parts.join(''));
        }
      },
      URL: { createObjectURL: () => 'blob:fake' },
      Worker: class {
        posted: unknown[] = [];
        constructor(url: string) {
          made.push({ url, posted: this.posted });
        }
        postMessage(m: unknown) {
          this.posted.push(m);
        }
        addEventListener() {}
        terminate() {}
      },
    };
    const spawn = threadPlatform(scope);
    if (typeof spawn === 'string') throw new Error(spawn);
    const data = { module: {} as WebAssembly.Module, memory: {} as WebAssembly.Memory, slot: 1, stallMs: 0 };
    spawn(data, () => undefined);
    expect(made).toEqual([{ url: 'blob:fake', posted: [data] }]);
    // The one worker body (the job loop) is the same as Node's; only how it gets its data differs.
    expect(scripts).toHaveLength(1);
    expect(scripts[0]).toMatch(/self\.addEventListener\('message'/);
    expect(scripts[0]).toMatch(/Atomics\.compareExchange/);
  });
});
