/**
 * The Module tree: layers own named parameters (trained) and buffers (state such as
 * BatchNorm's running statistics), and child modules.
 *
 * Order (docs/design.md §10): `namedParameters()` lists a module's own parameters in registration
 * order, then each child's, depth first, in registration order — PyTorch's order, and the
 * oracle's `param_order`. The flattened parameter vector (flattenParameters) is the
 * concatenation of each parameter's row-major data in that order.
 *
 * Parameter substitution: `withParameters(values, fn)` runs fn with other tensors standing in
 * for the parameters (views of one flat vector, say) without touching the model's own tensors.
 * This is the functional call that HVPs, interpolation and trajectories need.
 */
import { noGrad } from '../autograd/mode.js';
import { concat } from '../autograd/ops/concat.js';
import { DTypeError, ShapeError, ValueError, describeValue, formatShape } from '../tensor/errors.js';
import { tensor } from '../tensor/creation.js';
import { dtypeOf, type TypedArray } from '../tensor/dtype.js';
import { shapesEqual } from '../tensor/shape.js';
import { lifetime } from '../tensor/storage.js';
import { Tensor } from '../tensor/tensor.js';

/** A tensor a module stores from now on: exempt from release by an open tidy scope (tensor/tidy.ts). */
function owned(t: Tensor): Tensor {
  lifetime.keep?.(t);
  return t;
}

/** Buffer values by qualified name, as returned by `saveStats`. */
export type SavedStats = Map<string, TypedArray>;

/** What flows through `forward` besides the input: per-sample ids and a dropout seed. */
export interface ForwardContext {
  /** A stable id per sample of the batch (dropout masks are keyed by it). */
  sampleIds?: ArrayLike<number>;
  /** Seed of the dropout masks of this forward pass. */
  seed?: number;
}

/** Check that `v` is a Module (a layer of a container, a model given to a helper). */
export function moduleArgument<M extends Module>(op: string, v: M, name = 'a Module'): M {
  if (!(v instanceof Module)) throw new ValueError(`${op}: expected ${name}; got ${(v as unknown) instanceof Tensor ? 'a Tensor' : describeValue(v)}`);
  return v;
}

/**
 * The base class of every layer and model, as torch.nn.Module is: a subclass registers its
 * parameters, buffers and child modules in its constructor and implements `forward`.
 * Parameters are leaf tensors that require grad; buffers are state that is not trained
 * (BatchNorm's running statistics). Both are named, and ordered as the file comment says.
 *
 * A model can also run as a pure function of its parameters, as with
 * torch.func.functional_call: see `withParameters`, `callWithVector` and functionalCall.
 * @example
 * class Affine extends Module {
 *   constructor() {
 *     super();
 *     this.registerParameter('scale', ones([3]));
 *   }
 *   forward(x: Tensor): Tensor {
 *     return x.mul(this.param('scale'));
 *   }
 * }
 */
export abstract class Module {
  /** Train mode (dropout active, BatchNorm on batch statistics) or eval mode. */
  training = true;
  private readonly ownParameters = new Map<string, Tensor>();
  private readonly ownBuffers = new Map<string, Tensor>();
  private readonly childModules = new Map<string, Module>();
  /** Stand-ins for own parameters during withParameters (null otherwise). */
  private overrides: Map<string, Tensor> | null = null;

  /**
   * The layer's computation on input `x` (shape and dtype as each layer documents). `context`
   * carries per-sample ids and the dropout seed, and containers pass it on to every child.
   */
  abstract forward(x: Tensor, context?: ForwardContext): Tensor;

  /** A short description for printing, e.g. `Linear(784 → 256)`. */
  describe(): string {
    return this.constructor.name;
  }

  /**
   * The input of `forward`, checked once at the layer's entry: a Tensor (a float one unless
   * `float` is false), with messages that name the layer (`Linear(3 → 2): expected …`).
   */
  protected input(x: unknown, float = true): Tensor {
    if (!(x instanceof Tensor)) throw new ValueError(`${this.describe()}: expected the input to be a Tensor; got ${describeValue(x)}`);
    if (float && x.dtype === 'int32') {
      throw new DTypeError(`${this.describe()}: expected a float32 or float64 input; got int32 (convert with .to('float32'))`);
    }
    return x;
  }

  // ---- registration (called from constructors) -----------------------------------------

  /**
   * Add a trained tensor under `name` (no '.', unique among this module's members), as
   * torch.nn.Module.register_parameter does. A leaf that does not require grad is switched to
   * requiring it. Returns `value`. Throws a ValueError for an invalid or repeated name.
   */
  protected registerParameter(name: string, value: Tensor): Tensor {
    this.checkName(name);
    if (value.isLeaf && !value.requiresGrad) value.requireGrad();
    this.ownParameters.set(name, owned(value));
    return value;
  }

  /**
   * Add state that is saved and restored with the model but not trained (running statistics),
   * as torch.nn.Module.register_buffer does. Returns `value`. Throws a ValueError for an
   * invalid or repeated name.
   */
  protected registerBuffer(name: string, value: Tensor): Tensor {
    this.checkName(name);
    this.ownBuffers.set(name, owned(value));
    return value;
  }

  /**
   * Add a child module under `name`: its parameters and buffers become this module's, with
   * qualified names `name.…`, and it follows train()/eval(). Returns `module`. Throws a
   * ValueError for an invalid or repeated name.
   */
  protected registerModule<M extends Module>(name: string, module: M): M {
    this.checkName(name);
    this.childModules.set(name, module);
    return module;
  }

  private checkName(name: string): void {
    if (!name || name.includes('.') || this.ownParameters.has(name) || this.ownBuffers.has(name) || this.childModules.has(name)) {
      throw new ValueError(`${this.describe()}: invalid or repeated member name '${name}'`);
    }
  }

  // ---- access ----------------------------------------------------------------------------

  /** An own parameter by name (the stand-in inside withParameters). */
  protected param(name: string): Tensor {
    const value = this.overrides?.get(name) ?? this.ownParameters.get(name);
    if (!value) throw new ValueError(`${this.describe()}: no parameter '${name}'`);
    return value;
  }

  /** An own buffer by name; throws a ValueError if there is none. */
  protected buffer(name: string): Tensor {
    const value = this.ownBuffers.get(name);
    if (!value) throw new ValueError(`${this.describe()}: no buffer '${name}'`);
    return value;
  }

  /** Replace a buffer's tensor (shape and dtype must stay). */
  protected setBuffer(name: string, value: Tensor): void {
    const old = this.buffer(name);
    if (!shapesEqual(old.shape, value.shape) || old.dtype !== value.dtype) {
      throw new ShapeError(`${this.describe()}: buffer '${name}' is ${formatShape(old.shape)} ${old.dtype}; got ${formatShape(value.shape)} ${value.dtype}`);
    }
    this.ownBuffers.set(name, owned(value));
  }

  /** (name, module) pairs of this module and all descendants, depth first; this one is ''. */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [name, child] of this.childModules) out.push(...child.namedModules(prefix ? `${prefix}.${name}` : name));
    return out;
  }

  /** The direct child modules, in registration order (not their descendants). */
  children(): Module[] {
    return [...this.childModules.values()];
  }

  /** (qualified name, parameter) in the documented order (see the file comment). */
  namedParameters(): [string, Tensor][] {
    return this.namedModules().flatMap(([prefix, m]) =>
      [...m.ownParameters.keys()].map((n): [string, Tensor] => [prefix ? `${prefix}.${n}` : n, m.param(n)]),
    );
  }

  /**
   * The parameters in the documented order (what an optimizer takes); the stand-ins while
   * inside `withParameters`.
   */
  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** (qualified name, buffer), in the same order as parameters. */
  namedBuffers(): [string, Tensor][] {
    return this.namedModules().flatMap(([prefix, m]) =>
      [...m.ownBuffers].map(([n, b]): [string, Tensor] => [prefix ? `${prefix}.${n}` : n, b]),
    );
  }

  /** The buffers of this module and its descendants, in `namedBuffers()` order. */
  buffers(): Tensor[] {
    return this.namedBuffers().map(([, b]) => b);
  }

  /** Total number of parameter elements. */
  numParameters(): number {
    return this.parameters().reduce((n, p) => n + p.size, 0);
  }

  // ---- modes -----------------------------------------------------------------------------

  /** Set train (default) or eval mode on this module and every descendant; returns this. */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  /** Eval mode for this module and every descendant, i.e. `train(false)`; returns this. */
  eval(): this {
    return this.train(false);
  }

  /** Clear `.grad` of every parameter. */
  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }

  // ---- running statistics (docs/design.md §8) -------------------------------------------------

  /**
   * The values of every buffer (BatchNorm running statistics) as copies, keyed by qualified
   * name: a value that `restoreStats` puts back bit-identically.
   * @example const s = model.saveStats(); snapshotPass(); model.restoreStats(s);
   */
  saveStats(): SavedStats {
    return new Map(this.namedBuffers().map(([name, b]) => [name, b.toTypedArray()]));
  }

  /**
   * Put back buffer values saved by `saveStats` (names, sizes and dtypes must match). Every
   * value is checked before any buffer is replaced, so a bad `saved` changes nothing.
   */
  restoreStats(saved: SavedStats): void {
    const owners = new Map(
      this.namedModules().flatMap(([prefix, m]) => [...m.ownBuffers.keys()].map((n) => [prefix ? `${prefix}.${n}` : n, { m, n }] as const)),
    );
    const missing = [...owners.keys()].filter((name) => !saved.has(name));
    const unknown = [...saved.keys()].filter((name) => !owners.has(name));
    if (missing.length > 0 || unknown.length > 0) {
      throw new ValueError(
        `restoreStats: the saved value does not match the model's ${owners.size} buffers` +
          (missing.length > 0 ? `; missing: ${missing.map((n) => `'${n}'`).join(', ')}` : '') +
          (unknown.length > 0 ? `; not in the model: ${unknown.map((n) => `'${n}'`).join(', ')}` : ''),
      );
    }
    for (const [name, values] of saved) {
      const { m, n } = owners.get(name)!;
      const current = m.buffer(n);
      if (current.size !== values.length || current.dtype !== dtypeOf(values)) {
        throw new ShapeError(`restoreStats: buffer '${name}' is ${formatShape(current.shape)} ${current.dtype}; the saved value has ${values.length} ${dtypeOf(values)} values`);
      }
    }
    // Everything matches: replace (copies, so the saved value stays usable).
    for (const [name, values] of saved) {
      const { m, n } = owners.get(name)!;
      m.ownBuffers.set(n, owned(tensor(values, { shape: m.buffer(n).shape })));
    }
  }

  /** Run fn and put the running statistics back afterwards, even if fn throws. */
  withFrozenStats<T>(fn: () => T): T {
    const saved = this.saveStats();
    try {
      return fn();
    } finally {
      this.restoreStats(saved);
    }
  }

  // ---- functional use --------------------------------------------------------------------

  /**
   * Run `fn` with `values[i]` standing in for the i-th parameter (namedParameters order). The
   * model's own tensors are never modified; gradients flow to the stand-ins.
   */
  withParameters<T>(values: readonly Tensor[], fn: () => T): T {
    const named = this.namedModules();
    const modules = named.map(([, m]) => m);
    const slots = named.flatMap(([prefix, m]) => [...m.ownParameters.keys()].map((name) => ({ m, name, qualified: prefix ? `${prefix}.${name}` : name })));
    if (values.length !== slots.length) {
      throw new ValueError(`withParameters: the model has ${slots.length} parameters; got ${values.length} values`);
    }
    slots.forEach(({ m, name, qualified }, i) => checkStandIn('withParameters', m, name, qualified, m.ownParameters.get(name)!, values[i]!));
    const previous = modules.map((m) => m.overrides);
    modules.forEach((m) => (m.overrides = new Map()));
    slots.forEach(({ m, name }, i) => m.overrides!.set(name, values[i]!));
    try {
      return fn();
    } finally {
      modules.forEach((m, i) => (m.overrides = previous[i]!));
    }
  }

  /**
   * The parameters as one flat vector (a copy): each parameter's row-major data, in the
   * documented order — the oracle's flattened parameter vector.
   */
  flattenParameters(): Tensor {
    return noGrad(() => concat(this.parameters().map((p) => p.reshape([p.size])), 0).contiguous());
  }

  /**
   * Views of a flat vector shaped like the parameters, in order. They are differentiable
   * slices of `vector`, so a gradient with respect to the stand-ins reaches the vector.
   */
  unflattenParameters(vector: Tensor): Tensor[] {
    const params = this.parameters();
    const total = params.reduce((n, p) => n + p.size, 0);
    if (vector.rank !== 1 || vector.size !== total) {
      throw new ShapeError(`unflattenParameters: the model has ${total} parameter elements; got a vector of shape ${formatShape(vector.shape)}`);
    }
    let start = 0;
    return params.map((p) => {
      const view = vector.slice([[start, start + p.size]]).reshape(p.shape);
      start += p.size;
      return view;
    });
  }

  /**
   * Run fn with the parameters taken from a flat vector (a functional call): the model's own
   * tensors are not touched, and gradients flow to `vector` — what HVPs, interpolation and
   * trajectories need.
   * @example const loss = (v: Tensor) => model.callWithVector(v, () => crossEntropy(model.forward(x), y));
   */
  callWithVector<T>(vector: Tensor, fn: () => T): T {
    return this.withParameters(this.unflattenParameters(vector), fn);
  }

  /**
   * Replace the values of the model's own parameters, in place (e.g. loading): the same tensor
   * objects keep their identity, their version counters are bumped, and the values are copied
   * bit for bit (−0 and NaN payloads included). All values are checked before any is written.
   */
  assignParameters(values: readonly Tensor[]): void {
    const named = this.namedModules();
    const slots = named.flatMap(([prefix, m]) => [...m.ownParameters].map(([name, p]) => ({ m, name, p, qualified: prefix ? `${prefix}.${name}` : name })));
    if (values.length !== slots.length) {
      throw new ValueError(`assignParameters: the model has ${slots.length} parameters; got ${values.length} values`);
    }
    slots.forEach(({ m, name, p, qualified }, i) => checkStandIn('assignParameters', m, name, qualified, p, values[i]!));
    noGrad(() => slots.forEach(({ p }, i) => overwrite(p, values[i]!)));
  }
}

/**
 * p ← value in place (same shape and dtype), bumping p's version counter as copy_ does.
 * NOTE: copy_ moves elements through JavaScript numbers, which may quiet a float32 signalling
 * NaN; TypedArray.prototype.set between arrays of one element type is specified to keep the
 * bit-level encoding, so a contiguous parameter (every one, in practice) is written with it.
 */
function overwrite(p: Tensor, value: Tensor): void {
  if (!p.isContiguous()) {
    p.copy_(value);
    return;
  }
  p.data.set(value.toTypedArray(), p.offset);
  p.storage.version++;
}

/** A value for parameter `qualified` (`name` of layer m) must have its shape and dtype. */
function checkStandIn(op: string, m: Module, name: string, qualified: string, own: Tensor, value: Tensor): void {
  if (!shapesEqual(own.shape, value.shape)) {
    throw new ShapeError(`${op}: parameter '${qualified}' (${name} of ${m.describe()}) has shape ${formatShape(own.shape)}; got ${formatShape(value.shape)}`);
  }
  if (own.dtype !== value.dtype) {
    throw new DTypeError(`${op}: parameter '${qualified}' (${name} of ${m.describe()}) is ${own.dtype}; got ${value.dtype} (convert with .to('${own.dtype}'))`);
  }
}
