/**
 * The Module tree: layers own named parameters (trained) and buffers (state such as
 * BatchNorm's running statistics), and child modules.
 *
 * Order (DESIGN.md §10): `namedParameters()` lists a module's own parameters in registration
 * order, then each child's, depth first, in registration order — PyTorch's order, and the
 * oracle's `param_order`. The flattened parameter vector (flattenParameters) is the
 * concatenation of each parameter's row-major data in that order.
 *
 * Parameter substitution: `withParameters(values, fn)` runs fn with other tensors standing in
 * for the parameters (views of one flat vector, say) without touching the model's own tensors.
 * This is the functional call that HVPs, interpolation and trajectories need.
 */
import { noGrad } from '../autograd/mode.js';
import { GradError, ShapeError, ValueError, formatShape } from '../tensor/errors.js';
import { tensor } from '../tensor/creation.js';
import { dtypeOf, type TypedArray } from '../tensor/dtype.js';
import { shapesEqual } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';

/** Buffer values by qualified name, as returned by `saveStats`. */
export type SavedStats = Map<string, TypedArray>;

/** What flows through `forward` besides the input: per-sample ids and a dropout seed. */
export interface ForwardContext {
  /** A stable id per sample of the batch (dropout masks are keyed by it). */
  sampleIds?: ArrayLike<number>;
  /** Seed of the dropout masks of this forward pass. */
  seed?: number;
}

export abstract class Module {
  /** Train mode (dropout active, BatchNorm on batch statistics) or eval mode. */
  training = true;
  private readonly ownParameters = new Map<string, Tensor>();
  private readonly ownBuffers = new Map<string, Tensor>();
  private readonly childModules = new Map<string, Module>();
  /** Stand-ins for own parameters during withParameters (null otherwise). */
  private overrides: Map<string, Tensor> | null = null;

  /** The layer's computation. */
  abstract forward(x: Tensor, context?: ForwardContext): Tensor;

  /** A short description for printing, e.g. `Linear(784 → 256)`. */
  describe(): string {
    return this.constructor.name;
  }

  // ---- registration (called from constructors) -----------------------------------------

  protected registerParameter(name: string, value: Tensor): Tensor {
    this.checkName(name);
    if (value.isLeaf && !value.requiresGrad) value.requireGrad();
    this.ownParameters.set(name, value);
    return value;
  }

  protected registerBuffer(name: string, value: Tensor): Tensor {
    this.checkName(name);
    this.ownBuffers.set(name, value);
    return value;
  }

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
    this.ownBuffers.set(name, value);
  }

  /** (name, module) pairs of this module and all descendants, depth first; this one is ''. */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [name, child] of this.childModules) out.push(...child.namedModules(prefix ? `${prefix}.${name}` : name));
    return out;
  }

  children(): Module[] {
    return [...this.childModules.values()];
  }

  /** (qualified name, parameter) in the documented order (see the file comment). */
  namedParameters(): [string, Tensor][] {
    return this.namedModules().flatMap(([prefix, m]) =>
      [...m.ownParameters.keys()].map((n): [string, Tensor] => [prefix ? `${prefix}.${n}` : n, m.param(n)]),
    );
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** (qualified name, buffer), in the same order as parameters. */
  namedBuffers(): [string, Tensor][] {
    return this.namedModules().flatMap(([prefix, m]) =>
      [...m.ownBuffers].map(([n, b]): [string, Tensor] => [prefix ? `${prefix}.${n}` : n, b]),
    );
  }

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

  eval(): this {
    return this.train(false);
  }

  /** Clear `.grad` of every parameter. */
  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }

  // ---- running statistics (DESIGN.md §8) -------------------------------------------------

  /**
   * The values of every buffer (BatchNorm running statistics) as copies, keyed by qualified
   * name: a value that `restoreStats` puts back bit-identically.
   * @example const s = model.saveStats(); snapshotPass(); model.restoreStats(s);
   */
  saveStats(): SavedStats {
    return new Map(this.namedBuffers().map(([name, b]) => [name, b.toTypedArray()]));
  }

  /** Put back buffer values saved by `saveStats` (names, sizes and dtypes must match). */
  restoreStats(saved: SavedStats): void {
    const owners = new Map(
      this.namedModules().flatMap(([prefix, m]) => [...m.ownBuffers.keys()].map((n) => [prefix ? `${prefix}.${n}` : n, { m, n }] as const)),
    );
    if (owners.size !== saved.size) {
      throw new ValueError(`restoreStats: the model has ${owners.size} buffers; the saved value has ${saved.size}`);
    }
    for (const [name, values] of saved) {
      const owner = owners.get(name);
      if (!owner) throw new ValueError(`restoreStats: the model has no buffer '${name}'`);
      const current = owner.m.buffer(owner.n);
      if (current.size !== values.length || current.dtype !== dtypeOf(values)) {
        throw new ShapeError(`restoreStats: buffer '${name}' is ${formatShape(current.shape)} ${current.dtype}; the saved value has ${values.length} ${dtypeOf(values)} values`);
      }
      owner.m.ownBuffers.set(owner.n, tensor(values, { shape: current.shape }));
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
    const modules = this.namedModules().map(([, m]) => m);
    const slots = modules.flatMap((m) => [...m.ownParameters.keys()].map((name) => ({ m, name })));
    if (values.length !== slots.length) {
      throw new ValueError(`withParameters: the model has ${slots.length} parameters; got ${values.length} values`);
    }
    slots.forEach(({ m, name }, i) => {
      const own = m.ownParameters.get(name)!;
      if (!shapesEqual(own.shape, values[i]!.shape)) {
        throw new ShapeError(`withParameters: parameter '${name}' of ${m.describe()} has shape ${formatShape(own.shape)}; got ${formatShape(values[i]!.shape)}`);
      }
    });
    const previous = modules.map((m) => m.overrides);
    modules.forEach((m) => (m.overrides = new Map()));
    slots.forEach(({ m, name }, i) => m.overrides!.set(name, values[i]!));
    try {
      return fn();
    } finally {
      modules.forEach((m, i) => (m.overrides = previous[i]!));
    }
  }

  /** Replace the values of the model's own parameters, in place (e.g. loading). */
  assignParameters(values: readonly Tensor[]): void {
    const params = this.parameters();
    if (values.length !== params.length) {
      throw new ValueError(`assignParameters: the model has ${params.length} parameters; got ${values.length} values`);
    }
    params.forEach((p, i) => {
      if (!shapesEqual(p.shape, values[i]!.shape)) {
        throw new ShapeError(`assignParameters: parameter ${i} has shape ${formatShape(p.shape)}; got ${formatShape(values[i]!.shape)}`);
      }
      if (p.dtype !== values[i]!.dtype) throw new GradError(`assignParameters: parameter ${i} is ${p.dtype}; got ${values[i]!.dtype}`);
    });
    noGrad(() => params.forEach((p, i) => p.copy_(values[i]!)));
  }
}
