/**
 * The peers: TensorFlow.js with its pure-JS 'cpu' backend and its WebAssembly backend (SIMD
 * build, one thread — its threaded build does not start in Node), and jax-js on its wasm device
 * (one thread in Node). They are optional peer dependencies of gradscope-lab (dev dependencies
 * of the repository), loaded only here and only when `gradscope bench` runs, so
 * `gradscope --help` never pays for them.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { getBackend, listBackends, setBackend, setWasmThreads, wasmThreads } from 'gradscope';
import { rowThreads, type ImplRow } from './rows.js';
import { gradscopeBuilders } from './gradscope-rows.js';
import type { Impl } from './impl.js';
import { jaxjsBuilders, jaxjsThreads, type Jax } from './jaxjs-rows.js';
import { RowUnavailable, unavailableBuilders } from './runnable.js';
import { tfjsBuilders, type Tfjs } from './tfjs-rows.js';

/**
 * The wasm backend's threads for a row: its `threads` while it runs (matmul, grad and train-zoo
 * rows say -2t), one thread otherwise; the table's `thr` column reads them back.
 */
const wasmRowThreads = {
  beforeRow: async (row: ImplRow) => {
    if (getBackend().name === 'wasm' && rowThreads(row) > 1) await setWasmThreads(rowThreads(row));
  },
  afterRow: async () => {
    if (getBackend().name === 'wasm') await setWasmThreads(1);
  },
  threads: () => (getBackend().name === 'wasm' ? wasmThreads() : 1),
};

/** gradscope on whichever backend is current when the benchmark starts (its default). */
export function gradscopeImpl(): Impl {
  const backend = getBackend().name;
  return {
    name: 'gradscope',
    activate: async () => setBackend(backend),
    builders: gradscopeBuilders,
    ...wasmRowThreads,
  };
}

/**
 * gradscope on its other CPU backends, for the table's comparison of all CPU paths: when the
 * default is 'wasm', 'gradscope-cpu' (pure TypeScript); when it is 'cpu', 'gradscope-wasm'
 * where WebAssembly SIMD exists. Kernel, training and batch-gradient rows.
 */
export function otherCpuBackendImpls(): Impl[] {
  const current = getBackend().name;
  return ['cpu', 'wasm']
    .filter((name) => name !== current && listBackends().includes(name))
    .map((name) => ({
      name: `gradscope-${name}`,
      kinds: ['matmul', 'conv', 'train-mlp', 'train-lenet', 'train-zoo', 'grad'] as const,
      activate: async () => setBackend(name),
      builders: gradscopeBuilders,
      ...wasmRowThreads,
    }));
}

export interface TfjsPeers {
  impls: Impl[];
  version: string;
  wasmSimd: boolean;
}

const MISSING = (what: string) =>
  `bench: cannot load ${what}. The peers are optional peer dependencies of gradscope-lab: install them with ` +
  `\`npm install @tensorflow/tfjs@4.22.0 @tensorflow/tfjs-backend-wasm@4.22.0\` (in a gradscope checkout, \`npm install\` ` +
  `already does), then try again.`;

async function load<T>(name: string, loader: () => Promise<T>): Promise<T> {
  try {
    return await loader();
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') throw new Error(MISSING(name));
    throw error;
  }
}

export async function loadTfjsPeers(): Promise<TfjsPeers> {
  const tf: Tfjs = await load('@tensorflow/tfjs', () => import('@tensorflow/tfjs'));
  const wasm = await load('@tensorflow/tfjs-backend-wasm', () => import('@tensorflow/tfjs-backend-wasm'));
  // Production mode: no debug checks, and no "install tfjs-node" banner on first use.
  tf.enableProdMode();
  // The .wasm binaries sit next to the package's main file, in its dist/ folder.
  const dist = dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm'));
  wasm.setWasmPaths(`${dist}/`);
  const wasmSimd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true;
  const builders = tfjsBuilders(tf);
  const peer = (backend: 'cpu' | 'wasm'): Impl => ({
    name: `tfjs-${backend}`,
    activate: async () => {
      if (!(await tf.setBackend(backend))) throw new Error(`bench: tfjs could not start its '${backend}' backend`);
      await tf.ready();
    },
    builders,
    liveTensors: () => tf.memory().numTensors,
  });
  return { impls: [peer('cpu'), peer('wasm')], version: tf.version.tfjs, wasmSimd };
}

/** The jax-js version the bench is written against (its API is young: pin it). */
export const JAXJS_VERSION = '0.1.25';

export interface JaxjsPeer {
  impl: Impl;
  /** Its package version, or null when it is not installed. */
  version: string | null;
}

function packageVersion(main: string): string | null {
  try {
    // The package's exports do not include package.json: read it beside dist/.
    return (JSON.parse(readFileSync(join(dirname(main), '..', 'package.json'), 'utf8')) as { version?: string }).version ?? null;
  } catch {
    return null;
  }
}

/**
 * jax-js (`@jax-js/jax`) on its wasm device, imported here only. Unlike tfjs it is not needed for
 * the bench to run: where it is missing, or its wasm device does not start, every jax-js row is
 * reported with the reason.
 */
export async function loadJaxjsPeer(): Promise<JaxjsPeer> {
  let jax: Jax;
  try {
    jax = await import('@jax-js/jax');
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') throw error;
    const reason = `@jax-js/jax is not installed (an optional peer: npm install @jax-js/jax@${JAXJS_VERSION})`;
    return {
      impl: {
        name: 'jax-js',
        activate: async () => {
          throw new RowUnavailable(reason);
        },
        builders: unavailableBuilders(reason),
      },
      version: null,
    };
  }
  const version = packageVersion(createRequire(import.meta.url).resolve('@jax-js/jax'));
  const impl: Impl = {
    name: 'jax-js',
    activate: async () => {
      const devices = await jax.init('wasm');
      if (!devices.includes('wasm')) throw new RowUnavailable('its wasm device did not start');
      jax.defaultDevice('wasm');
    },
    builders: jaxjsBuilders(jax),
    threads: () => jaxjsThreads(),
  };
  return { impl, version };
}
