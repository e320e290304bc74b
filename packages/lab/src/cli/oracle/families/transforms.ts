/**
 * Oracle family 7 (`transforms.json`): function transforms of small programs, as functorch 1.13
 * computes them. Each case is a program f (a list of nodes over named tensors), a transform
 * expression built from f (vmap, grad, jacrev, jacfwd, hessian, jvp, vjp, nested), the call
 * arguments and the result's layout as expected keys (packages/lab/oracle/README.md, family 7).
 *
 * The interpreter only translates: every transform is gradscope's own (vmap.ts, transforms.ts,
 * jacobians.ts), applied to a plain TypeScript function that evaluates the program with
 * gradscope ops. Nothing is computed by loops here, so a case passes only if the engine's
 * transforms and their per-primitive rules are right. The file's schema (which ops, which
 * attributes, which keys) is checked before anything runs, in validate-transforms.ts.
 */
import * as F from 'gradscope';
import { type AxisSpec, describeValue, type FloatDType, grad, hessian, jacfwd, jacrev, jvp, Tensor, tensor, ValueError, vjp, vmap } from 'gradscope';

import { inputOf, toTensor, type Family, type OracleCase, type Results } from '../format.js';

/** A pytree of tensors: a tensor, a list of pytrees or a dict of pytrees (README "Pytrees"). */
export type Tree = Tensor | readonly Tree[] | { readonly [key: string]: Tree };

/** The same structure with names (strings) at the leaves, as `config` writes pytrees. */
export type NameTree = string | readonly NameTree[] | { readonly [key: string]: NameTree };

type Fn = (...args: Tree[]) => Tree;

export interface ProgramNode {
  id: string;
  op: string;
  args: (string | number)[];
  [attribute: string]: unknown;
}

export interface Program {
  signature: NameTree[];
  nodes: ProgramNode[];
  result: NameTree;
}

/** How an attribute's value is checked (validate-transforms.ts). */
export type AttributeKind = 'int' | 'ints' | 'null_or_ints' | 'bool' | 'number' | 'pair';

interface NodeOp {
  /** Fewest and most tensor arguments. */
  arity: readonly [number, number];
  /** Exactly the attributes a node of this op carries, all required. */
  attributes: Readonly<Record<string, AttributeKind>>;
  run: (x: Tensor[], node: ProgramNode) => Tensor;
}

const unary = (run: (x: Tensor) => Tensor): NodeOp => ({ arity: [1, 1], attributes: {}, run: ([x]) => run(x!) });
const binary = (run: (a: Tensor, b: Tensor) => Tensor): NodeOp => ({ arity: [2, 2], attributes: {}, run: ([a, b]) => run(a!, b!) });
const REDUCE = { dim: 'null_or_ints', keepdim: 'bool' } as const;

/**
 * The program ops (README family 7, "config.program"), with the semantics of the `ops` family.
 * A Map, not an object literal: `'constructor' in {}` is true through Object.prototype.
 */
const NODE_OP_TABLE: Record<string, NodeOp> = {
  add: binary(F.add),
  sub: binary(F.sub),
  mul: binary(F.mul),
  div: binary(F.div),
  neg: unary(F.neg),
  exp: unary(F.exp),
  log: unary(F.log),
  sqrt: unary(F.sqrt),
  tanh: unary(F.tanh),
  sigmoid: unary(F.sigmoid),
  pow_scalar: { arity: [1, 1], attributes: { exponent: 'number' }, run: ([x], n) => F.powScalar(x!, n.exponent as number) },
  sum: { arity: [1, 1], attributes: REDUCE, run: ([x], n) => F.sum(x!, n.dim as number[] | null, n.keepdim as boolean) },
  mean: { arity: [1, 1], attributes: REDUCE, run: ([x], n) => F.mean(x!, n.dim as number[] | null, n.keepdim as boolean) },
  logsumexp: { arity: [1, 1], attributes: { dim: 'ints', keepdim: 'bool' }, run: ([x], n) => F.logsumexp(x!, n.dim as number[], n.keepdim as boolean) },
  softmax: { arity: [1, 1], attributes: { dim: 'int' }, run: ([x], n) => F.softmax(x!, n.dim as number) },
  log_softmax: { arity: [1, 1], attributes: { dim: 'int' }, run: ([x], n) => F.logSoftmax(x!, n.dim as number) },
  reshape: { arity: [1, 1], attributes: { shape: 'ints' }, run: ([x], n) => F.reshape(x!, n.shape as number[]) },
  transpose: { arity: [1, 1], attributes: { dim0: 'int', dim1: 'int' }, run: ([x], n) => F.transpose(x!, n.dim0 as number, n.dim1 as number) },
  permute: { arity: [1, 1], attributes: { dims: 'ints' }, run: ([x], n) => F.permute(x!, n.dims as number[]) },
  concat: { arity: [1, Infinity], attributes: { dim: 'int' }, run: (xs, n) => F.concat(xs, n.dim as number) },
  // torch.matmul = numpy.matmul, 1-D operands included ([d] @ [d,k] -> [k]); F.matmul does the same.
  matmul: binary(F.matmul),
  conv2d: {
    arity: [2, 3],
    attributes: { stride: 'pair', padding: 'pair', dilation: 'pair', groups: 'int' },
    run: ([x, w, bias], n) => {
      const out = F.conv2d(x!, w!, { stride: n.stride, padding: n.padding, dilation: n.dilation, groups: n.groups } as F.Conv2dOptions);
      // The bias [C_out] broadcast over N, H and W, as F.conv2d in PyTorch adds it.
      return bias ? out.add(bias.reshape([1, bias.size, 1, 1])) : out;
    },
  },
};

export const NODE_OPS: ReadonlyMap<string, NodeOp> = new Map(Object.entries(NODE_OP_TABLE));

const isDict = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Tensor);

function fail(c: OracleCase, message: string): never {
  throw new ValueError(`oracle transforms/${c.name}: ${message}`);
}

/** Bind an argument to its signature pytree: the same structure, leaves into `env` under their names. */
function bind(c: OracleCase, spec: NameTree, value: unknown, where: string, env: Map<string, Tensor>): void {
  if (typeof spec === 'string') {
    if (!(value instanceof Tensor)) fail(c, `${where} should be a tensor (signature name '${spec}'); got ${describeValue(value)}`);
    env.set(spec, value);
  } else if (Array.isArray(spec)) {
    if (!Array.isArray(value) || value.length !== spec.length) fail(c, `${where} should be a list of ${spec.length}; got ${describeValue(value)}`);
    spec.forEach((s, i) => bind(c, s, value[i], `${where}[${i}]`, env));
  } else {
    const keys = Object.keys(spec);
    if (!isDict(value) || !sameKeys(Object.keys(value), keys)) fail(c, `${where} should be a dict with keys ${keys.join(', ')}; got ${describeValue(value)}`);
    for (const k of keys) bind(c, (spec as Record<string, NameTree>)[k]!, value[k], `${where}.${k}`, env);
  }
}

const sameKeys = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((k) => b.includes(k));

/** The names of a name pytree replaced by `leaf(name)`. */
function build(tree: NameTree, leaf: (name: string) => Tree): Tree {
  if (typeof tree === 'string') return leaf(tree);
  if (Array.isArray(tree)) return tree.map((t) => build(t, leaf));
  return Object.fromEntries(Object.entries(tree).map(([k, t]) => [k, build(t, leaf)]));
}

/** The program as a function of its signature's pytrees, evaluated node by node with gradscope ops. */
function programOf(c: OracleCase, program: Program, dtype: FloatDType): Fn {
  return (...args) => {
    if (args.length !== program.signature.length) fail(c, `the program takes ${program.signature.length} arguments; got ${args.length}`);
    const env = new Map<string, Tensor>();
    program.signature.forEach((s, i) => bind(c, s, args[i], `argument ${i}`, env));
    for (const node of program.nodes) {
      // A JSON number is a 0-d constant, in the run's dtype so that float32 runs stay float32.
      const xs = node.args.map((a) => (typeof a === 'number' ? tensor(a, { dtype }) : env.get(a)!));
      env.set(node.id, NODE_OPS.get(node.op)!.run(xs, node));
    }
    return build(program.result, (name) => env.get(name)!);
  };
}

/** `primals` with the entries at `argnums` replaced by `values`. */
function substitute(primals: readonly Tree[], argnums: readonly number[], values: readonly Tree[]): Tree[] {
  const all = primals.slice();
  argnums.forEach((k, i) => (all[k] = values[i]!));
  return all;
}

function listArgument(c: OracleCase, op: string, what: string, v: unknown): readonly Tree[] {
  if (!Array.isArray(v)) fail(c, `${op}: ${what} should be a list; got ${describeValue(v)}`);
  return v;
}

export type TransformName = 'vmap' | 'grad' | 'jacrev' | 'jacfwd' | 'hessian' | 'jvp' | 'vjp';
type Expression = Record<string, any>;

/**
 * Each transform maps a function to a function (README family 7, "config.transform"). jvp and
 * vjp take `argnums` (functorch's take none): the primals outside it are held fixed by closing
 * over them, which is how the generator called functorch.
 */
const TRANSFORMS: Record<TransformName, (c: OracleCase, e: Expression, fn: Fn) => Fn> = {
  vmap: (_c, e, fn) => vmap(fn, { inAxes: e.in_axes as AxisSpec, outAxes: e.out_axes as AxisSpec }),
  grad: (_c, e, fn) => grad(fn as (...args: any[]) => any, { argnums: e.argnums, hasAux: e.has_aux }) as Fn,
  jacrev: (_c, e, fn) => jacrev(fn as (...args: any[]) => any, { argnums: e.argnums }) as Fn,
  jacfwd: (_c, e, fn) => jacfwd(fn as (...args: any[]) => any, { argnums: e.argnums }) as Fn,
  hessian: (_c, e, fn) => hessian(fn as (...args: any[]) => any, { argnums: e.argnums }) as Fn,
  jvp: (c, e, fn) => (primals, tangents) => {
    const argnums: number[] = e.argnums;
    const all = listArgument(c, 'jvp', 'the primals', primals);
    const along = listArgument(c, 'jvp', 'the tangents', tangents);
    const partial = (...moving: Tree[]) => fn(...substitute(all, argnums, moving));
    const [out, tangentOut] = jvp(partial as (...args: any[]) => any, argnums.map((k) => all[k]!) as any, along as any);
    return [out, tangentOut] as Tree;
  },
  vjp: (c, e, fn) => (primals, cotangent) => {
    const argnums: number[] = e.argnums;
    const all = listArgument(c, 'vjp', 'the primals', primals);
    const partial = (...moving: Tree[]) => fn(...substitute(all, argnums, moving));
    const [out, pullback] = vjp(partial as (...args: any[]) => any, ...(argnums.map((k) => all[k]!) as any[]));
    return [out, (pullback as (ct: unknown) => Tree)(cotangent)] as Tree;
  },
};

/** The function a transform expression stands for; "f" is the program itself. */
function transformOf(c: OracleCase, e: string | Expression, f: Fn): Fn {
  if (e === 'f') return f;
  const expression = e as Expression;
  return TRANSFORMS[expression.transform as TransformName](c, expression, transformOf(c, expression.fn, f));
}

/** The returned value's leaves under the expected keys of `config.result` (same structure). */
function collect(c: OracleCase, spec: NameTree, value: unknown, results: Results): void {
  if (typeof spec === 'string') {
    if (!(value instanceof Tensor)) fail(c, `result '${spec}' should be a tensor; got ${describeValue(value)}`);
    results[spec] = value;
  } else if (Array.isArray(spec)) {
    if (!Array.isArray(value) || value.length !== spec.length) fail(c, `the result should be a list of ${spec.length} here; got ${describeValue(value)}`);
    spec.forEach((s, i) => collect(c, s, value[i], results));
  } else {
    const keys = Object.keys(spec);
    if (!isDict(value) || !sameKeys(Object.keys(value), keys)) fail(c, `the result should be a dict with keys ${keys.join(', ')} here; got ${describeValue(value)}`);
    for (const k of keys) collect(c, (spec as Record<string, NameTree>)[k]!, value[k], results);
  }
}

export const transformsFamily: Family = {
  // Every case runs: a transform or rule the engine lacks makes its case fail, never skip.
  missing: () => null,

  run(c: OracleCase, dtype: FloatDType): Results {
    const f = programOf(c, c.config.program as Program, dtype);
    const transformed = transformOf(c, c.config.transform, f);
    const args = (c.config.args as NameTree[]).map((a) => build(a, (name) => toTensor(inputOf(c, name), dtype)));
    const results: Results = {};
    collect(c, c.config.result as NameTree, transformed(...args), results);
    return results;
  },
};
