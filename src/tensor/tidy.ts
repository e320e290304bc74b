/**
 * tidy(fn): a scope whose tensors give their memory back when it ends (tf.tidy's rule), so that
 * the next step's results reuse it instead of fresh arrays.
 *
 * Why: every op's result is a new typed array, and fresh memory costs twice over. Its pages
 * fault on the first write, and the ArrayBuffers' external memory starts V8's collector: one
 * mark-compact per ≈ 64 MB, which for a LeNet-5 gradient at batch 128 (17.6 MB of results a step)
 * came to 57 mark-compacts and 133 scavenges in 220 steps. Released arrays drawn from a pool
 * brought that to 1 and 26, and the step's median 15.1 → 11.7 ms on one thread, 14.6 → 12.7 on
 * two (docs/performance.md, "2026-12-04").
 *
 * The rule. When fn returns (or throws), every storage created while it ran is *released*,
 * except:
 * - what fn returns: the tensors in its result, found through arrays, Maps and the data
 *   properties of plain objects (a perSampleGrads result, a record of losses);
 * - what keep() was called on;
 * - what a module stores (parameters and buffers, BatchNorm's running statistics included:
 *   module.ts keeps them), and what the optimizers and estimators store (the optimizers'
 *   steps run untracked, below; the estimators make their snapshots untracked and keep() what
 *   else they store, so that the rest of a step is released);
 * - the `.grad` that backward() accumulates into a leaf (engine.ts keeps it);
 * - the arrays a PerSampleWorkspace reuses (it retains them: they are released, never pooled).
 *
 * A released tensor cannot be read any more: any op on it, or `.data`, throws a ValueError that
 * names tidy. Its array goes to a pool when this scope allocated it and nothing that survives
 * shares it. An allocation of the same dtype and length then takes it, zero-filled unless the
 * kernel overwrites it. A nested scope's returned tensors belong to the enclosing scope. The
 * pool holds at most POOL_MAX_BYTES; past that, arrays are left to the collector.
 *
 * NOTE: the array of `tensor.data` is the storage itself: read it before the scope ends, or use
 * toTypedArray(), which copies. A returned tensor's graph is not kept (its saved tensors are
 * released): take gradients inside the scope. A scope holds every storage it created until it
 * ends: scope one step, not a whole training loop.
 */
import { tensorArgument } from '../autograd/operands.js';
import { isContainer } from '../autograd/pytree.js';
import { getBackend } from '../kernels/registry.js';
import { giveBack, isResident, RESIDENT_MIN, residentHeap } from '../kernels/wasm/resident.js';
import { functionArgument } from './arguments.js';
import { dtypeOf, freshArray, type TypedArray } from './dtype.js';
import { ValueError } from './errors.js';
import { lifetime, Storage } from './storage.js';
import { Tensor } from './tensor.js';

/** The most bytes the pool of released arrays holds (256 MiB). */
export const POOL_MAX_BYTES = 256 * 2 ** 20;

interface Scope {
  /** Storages created while the scope was innermost (and survivors of scopes nested in it). */
  storages: Storage[];
  /** Arrays allocated while it was innermost (and those of the survivors of nested scopes). */
  allocated: WeakSet<TypedArray>;
}

/** Open scopes, innermost last; null for an untracked() stretch. */
const scopes: (Scope | null)[] = [];
const kept = new WeakSet<Storage>();
const retained = new WeakSet<object>();
const pool = new Map<string, TypedArray[]>();
/** The arrays in the pool: two released storages of one array must not put it in twice. */
const pooled = new WeakSet<TypedArray>();
let pooledBytes = 0;
/** Testing only (setTidyPoolTesting): what the pool may hold, and whether arrays entering it are poisoned. */
const testing = { maxBytes: POOL_MAX_BYTES, poison: false };

/** The pool's key for arrays of `dtype` and `size`: resident ones (in WebAssembly memory) apart, as only scopes get them. */
const poolKey = (dtype: string, size: number, resident = false) => `${resident ? 'resident ' : ''}${dtype}:${size}`;

/**
 * What identifies the memory an array views, for the rule that memory something alive still
 * views is never pooled: its buffer, or for a resident array (every one of which views the
 * heap's one buffer) the array itself, since each has a region of its own.
 */
const memoryOf = (array: TypedArray): object => (isResident(array) ? array : array.buffer);

/** An array from the pool (resident ones first, inside a scope), or undefined. */
function fromPool(dtype: string, size: number, inScope: boolean): TypedArray | undefined {
  const array = (inScope ? pool.get(poolKey(dtype, size, true))?.pop() : undefined) ?? pool.get(poolKey(dtype, size))?.pop();
  if (array) {
    pooled.delete(array);
    pooledBytes -= array.byteLength;
  }
  return array;
}

/**
 * A new array for a scope: on the wasm backend, float32 of at least RESIDENT_MIN numbers, one
 * in the resident heap (so that the elementwise kernels read and write it in place).
 */
function scopeArray(dtype: string, size: number): TypedArray | undefined {
  return dtype === 'float32' && size >= RESIDENT_MIN && getBackend().name === 'wasm' ? residentHeap()?.take(size) : undefined;
}

function install(): void {
  if (lifetime.created) return;
  lifetime.created = (storage) => scopes.at(-1)?.storages.push(storage);
  lifetime.keep = (t) => kept.add(t.storage);
  lifetime.retain = (array) => retained.add(memoryOf(array));
  lifetime.allocate = (dtype, size, op, unfilled) => {
    const scope = scopes.at(-1);
    let array = fromPool(dtype, size, Boolean(scope)) ?? (scope ? scopeArray(dtype, size) : undefined);
    if (array) {
      if (!unfilled) array.fill(0);
    } else {
      array = freshArray(dtype, size, op, unfilled);
    }
    scope?.allocated.add(array);
    return array;
  };
}

/**
 * Run `fn` and release every tensor it created that its result does not hold (see the file
 * comment for the rule); returns fn's result. Scopes nest.
 * @example const loss = tidy(() => { const l = crossEntropy(model.forward(x), y); sgd(gradients([l], ps)); return l; });
 */
export function tidy<T>(fn: () => T): T {
  functionArgument('tidy', 'fn', fn);
  install();
  const scope: Scope = { storages: [], allocated: new WeakSet() };
  scopes.push(scope);
  let result: T | undefined;
  try {
    result = fn();
    if (result instanceof Promise) throw new ValueError('tidy: fn returned a Promise; tidy scopes are synchronous (await outside tidy, and tidy each synchronous step)');
    return result;
  } finally {
    scopes.pop();
    close(scope, result);
  }
}

/** Exempt `t` from release by every scope open now (as tf.keep); returns `t`. */
export function keep<T extends Tensor>(t: T): T {
  kept.add(tensorArgument('keep', t).storage);
  return t;
}

/**
 * Run `fn` with no scope tracking what it creates: its tensors are never released by a scope
 * open around it, and live as long as anything references them (the eager rule). For code that
 * stores tensors across calls, like the optimizers' state and estimators' snapshots.
 */
export function untracked<T>(fn: () => T): T {
  functionArgument('untracked', 'fn', fn);
  if (scopes.length === 0) return fn();
  scopes.push(null);
  try {
    return fn();
  } finally {
    scopes.pop();
  }
}

/** What tidy's pool of released arrays holds (tidyPoolSize). */
export interface TidyPoolSize {
  /** Released arrays waiting for an allocation of their dtype and length. */
  arrays: number;
  /** Their bytes (at most POOL_MAX_BYTES). */
  bytes: number;
}

/** What the pool holds now (for tests and for measuring). */
export function tidyPoolSize(): TidyPoolSize {
  let arrays = 0;
  for (const list of pool.values()) arrays += list.length;
  return { arrays, bytes: pooledBytes };
}

/**
 * Testing only (not exported by the package): cap the pool at `maxBytes` (0: pool nothing, so
 * every allocation is fresh, as without tidy), and with `poison` fill each array that enters
 * the pool with NaN (int32: −1), so that code still reading memory tidy gave back, or a kernel
 * that takes an unfilled array and does not write all of it, shows in its results. No
 * argument restores the defaults.
 */
export function setTidyPoolTesting(options: { maxBytes?: number; poison?: boolean } = {}): void {
  testing.maxBytes = options.maxBytes ?? POOL_MAX_BYTES;
  testing.poison = options.poison ?? false;
  emptyTidyPool();
}

/** Drop every array the pool holds (to the garbage collector, resident ones back to their heap), e.g. when training is over. */
export function emptyTidyPool(): void {
  for (const list of pool.values()) {
    for (const array of list) {
      pooled.delete(array);
      giveBack(array);
    }
  }
  pool.clear();
  pooledBytes = 0;
}

/** Release what `scope` created and `result` does not hold; survivors move to the enclosing scope. */
function close(scope: Scope, result: unknown): void {
  const returned = new Set<Storage>();
  collect(result, returned, new Set());
  const outer = scopes.at(-1);
  // Memory that something alive still views (a packed result's slices share one buffer): never pooled.
  const alive = new Set<object>();
  const released: Storage[] = [];
  // Resident arrays of survivors leaving every scope, and the ordinary copies that replace them.
  const copies = new Map<TypedArray, TypedArray>();
  for (const storage of scope.storages) {
    const isKept = kept.has(storage);
    if (!isKept && !returned.has(storage)) {
      released.push(storage);
      continue;
    }
    let array = arrayOf(storage);
    if (array && isResident(array) && (isKept || !outer)) {
      // Out of every scope: to an ordinary array, so that only scopes and the pool hold the heap.
      const copy = copies.get(array) ?? new Float32Array(array);
      copies.set(array, copy);
      Object.defineProperty(storage, 'data', { value: copy, writable: false, configurable: true });
      array = copy;
    }
    if (array) alive.add(memoryOf(array));
    // A returned (not kept) storage belongs to the enclosing scope now.
    if (!isKept && outer) {
      outer.storages.push(storage);
      if (array && scope.allocated.has(array)) outer.allocated.add(array);
    }
  }
  const free = (array: TypedArray) => scope.allocated.has(array) && !alive.has(memoryOf(array)) && !retained.has(memoryOf(array)) && give(array);
  for (const storage of released) {
    const array = arrayOf(storage);
    // A storage that already refuses reads (vmap's batched stand-ins) has nothing to release.
    if (!array) continue;
    Object.defineProperty(storage, 'data', { get: releasedRead });
    free(array);
  }
  for (const array of copies.keys()) free(array);
}

/** Add the storages of the tensors in `value` (through arrays, Maps and plain objects' data properties) to `out`. */
function collect(value: unknown, out: Set<Storage>, seen: Set<object>): void {
  if (value instanceof Tensor) {
    out.add(value.storage);
    return;
  }
  if (typeof value !== 'object' || value === null || seen.has(value)) return;
  seen.add(value);
  if (value instanceof Map) {
    for (const v of value.values()) collect(v, out, seen);
  } else if (Array.isArray(value)) {
    for (const v of value) collect(v, out, seen);
  } else if (isContainer(value)) {
    // Data properties only: a getter (a lazy result's norms) is not run for this.
    for (const d of Object.values(Object.getOwnPropertyDescriptors(value))) if ('value' in d) collect(d.value, out, seen);
  }
}

/** The storage's own array, or undefined where `data` is an accessor (already refusing reads). */
function arrayOf(storage: Storage): TypedArray | undefined {
  const own = Object.getOwnPropertyDescriptor(storage, 'data');
  return own && 'value' in own ? (own.value as TypedArray) : undefined;
}

/** Put a released array into the pool, if it has room (else a resident one back to its heap); each array at most once. */
function give(array: TypedArray): void {
  if (pooled.has(array)) return;
  const resident = isResident(array);
  if (testing.poison) array.fill(array instanceof Int32Array ? -1 : NaN);
  if (pooledBytes + array.byteLength > testing.maxBytes) {
    giveBack(array);
    return;
  }
  const key = poolKey(dtypeOf(array), array.length, resident);
  const list = pool.get(key) ?? [];
  pooled.add(array);
  list.push(array);
  pool.set(key, list);
  pooledBytes += array.byteLength;
}

function releasedRead(): never {
  throw new ValueError(
    'a tensor released by tidy() was used: a tensor created inside tidy(fn) lives until fn returns, unless fn returns it or keep() is called on it (train() runs each step in tidy: an estimator or update rule keeps what it stores, or creates it inside untracked())',
  );
}
