/**
 * PyTorch state dicts of gradscope models: `stateDict(model)` and `loadStateDict(model, dict)`,
 * the bridge between a Module and a safetensors file (src/io/safetensors.ts). Pure: no file
 * system here.
 *
 * Names and order are torch.nn.Module.state_dict()'s: for each module, depth first from the
 * root (namedModules order), its own parameters in registration order, then its own buffers,
 * then the children. gradscope's layers register their members under PyTorch's names
 * (Sequential children '0', '1', …; 'weight', 'bias', 'running_mean', 'running_var'), so a
 * gradscope model and the same PyTorch model have the same keys.
 *
 * NOTE: num_batches_tracked. PyTorch's BatchNorm has a third buffer, num_batches_tracked (a 0-d
 * int64), which it reads only when momentum is None (a cumulative average); gradscope's
 * momentum is always a number, so its BatchNorm has no such buffer. Every module with own
 * buffers running_mean and running_var (PyTorch's `_NormBase` with track_running_stats) still
 * gets the key here: stateDict writes the count last loaded into that module (0 if none;
 * gradscope's own training does not count), and loadStateDict accepts it (an integer 0-d
 * tensor) and keeps the count, so a PyTorch file loaded and saved again keeps its value. A
 * state dict without the key is not "missing" it: PyTorch's own loader fills in 0 for state
 * dicts without version metadata, which is what safetensors files are.
 *
 * Loading follows torch.nn.Module.load_state_dict: strict by default (every key of the model
 * present and no other), shape mismatches refused even when not strict, and the result lists
 * the missing and unexpected keys. float32 and float64 values are converted to the model's
 * dtype (as PyTorch's copy_ does: float64 → float32 rounds to nearest); an integer value for a
 * float member, or a float for num_batches_tracked, is refused. Everything is checked before
 * anything is written, so a refused state dict changes nothing.
 */
import { noGrad } from '../autograd/mode.js';
import { moduleArgument, type Module } from '../nn/module.js';
import { tensor } from '../tensor/creation.js';
import { ValueError, describeValue, formatShape } from '../tensor/errors.js';
import { shapesEqual } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { tensorDictEntries, type TensorDict } from './safetensors.js';

/** PyTorch's name of the BatchNorm batch counter (see the file comment). */
const NUM_BATCHES_TRACKED = 'num_batches_tracked';

/** The last num_batches_tracked loaded into each normalisation module. */
const batchesTracked = new WeakMap<Module, number>();

/** Options of loadStateDict. */
export interface LoadStateDictOptions {
  /**
   * Require the state dict's keys to be exactly the model's (default true, as PyTorch's
   * strict=True). With false, missing keys keep their current values and unexpected keys are
   * ignored; both are returned. Shape and dtype mismatches are refused either way.
   */
  strict?: boolean;
}

/** What loadStateDict did not load (torch's `_IncompatibleKeys`). */
export interface LoadStateDictResult {
  /** Keys of the model that the state dict lacks (empty after a strict load). */
  missingKeys: string[];
  /** Keys of the state dict that the model lacks (empty after a strict load). */
  unexpectedKeys: string[];
}

type SlotKind = 'parameter' | 'buffer' | 'num_batches_tracked';

/** One entry of a model's state dict: its key, kind, the module that owns it and the value. */
interface Slot {
  key: string;
  kind: SlotKind;
  module: Module;
  value: Tensor;
}

/** The model's state-dict entries in PyTorch's order (see the file comment). */
function slotsOf(model: Module): Slot[] {
  const slots: Slot[] = [];
  for (const [prefix, m] of model.namedModules()) {
    const key = (name: string) => (prefix ? `${prefix}.${name}` : name);
    // A member's local name has no '.', so the undotted names are the module's own.
    const own = <T>(pairs: [string, T][]) => pairs.filter(([n]) => !n.includes('.'));
    for (const [n, p] of own(m.namedParameters())) slots.push({ key: key(n), kind: 'parameter', module: m, value: p });
    const buffers = own(m.namedBuffers());
    for (const [n, b] of buffers) slots.push({ key: key(n), kind: 'buffer', module: m, value: b });
    const names = new Set(buffers.map(([n]) => n));
    if (names.has('running_mean') && names.has('running_var') && !names.has(NUM_BATCHES_TRACKED)) {
      const count = tensor(Int32Array.of(batchesTracked.get(m) ?? 0), { shape: [], dtype: 'int32' });
      slots.push({ key: key(NUM_BATCHES_TRACKED), kind: 'num_batches_tracked', module: m, value: count });
    }
  }
  return slots;
}

/**
 * The model's parameters and buffers by PyTorch state_dict name, in state_dict order,
 * num_batches_tracked included for BatchNorm layers (file comment). The tensors are detached
 * views of the model's own (they share storage, as PyTorch's state_dict() tensors do): copy one
 * before modifying it.
 * @example encodeSafetensors(stateDict(model), { metadata: { format: 'pt' } })
 */
export function stateDict(model: Module): Map<string, Tensor> {
  moduleArgument('stateDict', model, 'a model (Module)');
  return new Map(slotsOf(model).map((s) => [s.key, s.kind === 'num_batches_tracked' ? s.value : s.value.detach()]));
}

/**
 * Load a PyTorch-named state dict (a Map, an object or [name, Tensor] pairs; e.g. the tensors
 * of decodeSafetensors) into `model`, as torch.nn.Module.load_state_dict does: parameters are
 * overwritten in place (same tensor objects, version counters bumped), buffers replaced. Throws
 * one ValueError that lists every missing and unexpected key (when strict) and every shape or
 * dtype mismatch; nothing is changed unless everything fits.
 * @example loadStateDict(model, decodeSafetensors(bytes).tensors)
 */
export function loadStateDict(model: Module, dict: TensorDict, options: LoadStateDictOptions = {}): LoadStateDictResult {
  return loadStateDictInto(model, dict, options, 'loadStateDict');
}

/** loadStateDict with `what` naming the source in messages (loadSafetensors passes the path). */
export function loadStateDictInto(model: Module, dict: TensorDict, options: LoadStateDictOptions, what: string): LoadStateDictResult {
  moduleArgument(what, model, 'a model (Module)');
  if (typeof options !== 'object' || options === null) throw new ValueError(`${what}: expected options { strict? }; got ${describeValue(options)}`);
  const strict = options.strict ?? true;
  if (typeof strict !== 'boolean') throw new ValueError(`${what}: strict must be true or false; got ${describeValue(strict)}`);
  const given = new Map(tensorDictEntries(what, dict));
  const slots = slotsOf(model);
  const keys = new Set(slots.map((s) => s.key));

  const describe = (t: Tensor) => `${formatShape(t.shape)} ${t.dtype}`;
  const missing: Slot[] = [];
  const mismatched: string[] = [];
  for (const slot of slots) {
    const value = given.get(slot.key);
    if (value === undefined) {
      if (slot.kind !== 'num_batches_tracked') missing.push(slot);
      continue;
    }
    const own = slot.value;
    const differences: string[] = [];
    if (!shapesEqual(own.shape, value.shape)) differences.push(`shape ${formatShape(own.shape)} in the model, ${formatShape(value.shape)} in the state dict`);
    const ownInt = own.dtype === 'int32';
    const valueInt = value.dtype === 'int32';
    if (ownInt !== valueInt) {
      differences.push(`${ownInt ? 'an integer' : `a ${own.dtype}`} ${slot.kind === 'parameter' ? 'parameter' : 'buffer'} in the model, ${value.dtype} in the state dict`);
    }
    if (differences.length > 0) mismatched.push(`'${slot.key}': ${differences.join('; ')}`);
  }
  const unexpected = [...given.keys()].filter((k) => !keys.has(k));

  const problems = [
    ...(strict && missing.length > 0 ? [`missing from the state dict: ${missing.map((s) => `'${s.key}' (${s.kind} ${describe(s.value)})`).join(', ')}`] : []),
    ...(strict && unexpected.length > 0 ? [`in the state dict but not in the model: ${unexpected.map((k) => `'${k}' (${describe(given.get(k)!)})`).join(', ')}`] : []),
    ...mismatched.map((m) => `mismatch ${m}`),
  ];
  if (problems.length > 0) {
    const counts = [...(strict ? [`${missing.length} missing`, `${unexpected.length} unexpected`] : []), `${mismatched.length} mismatched`].join(', ');
    const prefix = strict ? commonPrefix(unexpected, keys) : null;
    const hint =
      prefix !== null
        ? `; the state dict's keys start with '${prefix}' (a wrapper such as DataParallel's 'module.'?): remove it from every key`
        : mismatched.length === 0
          ? '; pass { strict: false } to load the keys that match'
          : '';
    throw new ValueError(`${what}: the state dict does not match the model (${counts}; nothing was loaded${hint}):\n  - ${problems.join('\n  - ')}`);
  }

  // Everything fits: write. Values are converted to the model's float dtype where they differ.
  noGrad(() => {
    const converted = (key: string, own: Tensor): Tensor | undefined => {
      const value = given.get(key);
      return value === undefined ? undefined : value.dtype === own.dtype ? value : value.to(own.dtype);
    };
    const params = model.namedParameters().map(([key, p]) => converted(key, p) ?? p);
    const stats = model.saveStats();
    for (const [key, b] of model.namedBuffers()) {
      const value = converted(key, b);
      if (value !== undefined) stats.set(key, value.toTypedArray());
    }
    model.assignParameters(params);
    model.restoreStats(stats);
    for (const slot of slots) {
      if (slot.kind !== 'num_batches_tracked') continue;
      const value = given.get(slot.key);
      batchesTracked.set(slot.module, value === undefined ? 0 : value.toTypedArray()[0]!);
    }
  });
  return { missingKeys: missing.map((s) => s.key), unexpectedKeys: unexpected };
}

/**
 * A prefix P such that every unexpected key is P + a key of the model (the state dict of a
 * wrapped model, e.g. torch.nn.DataParallel's 'module.'), or null.
 */
function commonPrefix(unexpected: readonly string[], keys: ReadonlySet<string>): string | null {
  const first = unexpected[0];
  if (first === undefined) return null;
  for (const key of keys) {
    if (!first.endsWith(`.${key}`)) continue;
    const prefix = first.slice(0, first.length - key.length);
    if (unexpected.every((u) => u.startsWith(prefix) && keys.has(u.slice(prefix.length)))) return prefix;
  }
  return null;
}
