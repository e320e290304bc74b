/**
 * Schema check of a `transforms` case (README family 7), called from validate.ts after the
 * checks every case gets. A case here is a small language (a program and a transform
 * expression), so a typo is easy to make and would otherwise surface as a confusing failure or,
 * worse, a value nobody compares: every name, op, attribute, argnums entry and result key is
 * checked against the format before anything runs.
 *
 * Also checked: `derivative_order` equals the number of differentiations in the expression, and
 * the case's tolerance is no looser than the README's for that order (1e-8/1e-10 for order 0
 * and 1, 1e-7/1e-9 for order 2), so a file cannot make a case easier than the format says.
 */
import { NODE_OPS, type AttributeKind, type TransformName } from './families/transforms.js';
import { describe, isRecord, type Fail } from './validate-common.js';


const isInt = (v: unknown): v is number => Number.isSafeInteger(v);

/** README family 7: "Tolerance rtol 1e-8, atol 1e-10 (order 0/1), 1e-7 / 1e-9 (order 2)". */
export const TRANSFORMS_TOLERANCE: readonly { rtol: number; atol: number }[] = [
  { rtol: 1e-8, atol: 1e-10 },
  { rtol: 1e-8, atol: 1e-10 },
  { rtol: 1e-7, atol: 1e-9 },
];

const ATTRIBUTE_CHECKS: Record<AttributeKind, { ok: (v: unknown) => boolean; what: string }> = {
  int: { ok: isInt, what: 'an integer' },
  ints: { ok: (v) => Array.isArray(v) && v.every(isInt), what: 'a list of integers' },
  null_or_ints: { ok: (v) => v === null || (Array.isArray(v) && v.every(isInt)), what: 'null or a list of integers' },
  bool: { ok: (v) => typeof v === 'boolean', what: 'true or false' },
  number: { ok: (v) => typeof v === 'number' && Number.isFinite(v), what: 'a finite number' },
  pair: { ok: (v) => (isInt(v) && v >= 0) || (Array.isArray(v) && v.length === 2 && v.every((x) => isInt(x) && x >= 0)), what: 'an integer >= 0 or a pair of them' },
};

/** Exactly the keys of each transform (README "config.transform"). */
const TRANSFORM_KEYS: Record<TransformName, readonly string[]> = {
  vmap: ['transform', 'fn', 'in_axes', 'out_axes'],
  grad: ['transform', 'fn', 'argnums', 'has_aux'],
  jacrev: ['transform', 'fn', 'argnums'],
  jacfwd: ['transform', 'fn', 'argnums'],
  hessian: ['transform', 'fn', 'argnums'],
  jvp: ['transform', 'fn', 'argnums'],
  vjp: ['transform', 'fn', 'argnums'],
};

/** How many differentiations each transform adds (README: `derivative_order`). */
const ORDER: Record<TransformName, number> = { vmap: 0, grad: 1, jacrev: 1, jacfwd: 1, hessian: 2, jvp: 1, vjp: 1 };

/** The leaves of a pytree written with strings at the leaves, with their paths. */
function nameLeaves(tree: unknown, field: string, fail: Fail, path: string[] = [], out: { name: string; path: string[]; field: string }[] = []) {
  if (typeof tree === 'string') {
    if (tree === '') fail(field, 'expected a non-empty name');
    out.push({ name: tree, path, field });
  } else if (Array.isArray(tree)) {
    tree.forEach((t, i) => nameLeaves(t, `${field}[${i}]`, fail, [...path, String(i)], out));
  } else if (isRecord(tree)) {
    for (const [k, t] of Object.entries(tree)) nameLeaves(t, `${field}.${k}`, fail, [...path, k], out);
  } else {
    fail(field, `expected a pytree of names (a string, a list or a dict); got ${describe(tree)}`);
  }
  return out;
}

/** An axis pytree: an integer, null, or lists and dicts of them. */
function checkAxes(spec: unknown, field: string, fail: Fail): void {
  if (spec === null || isInt(spec)) return;
  if (Array.isArray(spec)) return spec.forEach((s, i) => checkAxes(s, `${field}[${i}]`, fail));
  if (isRecord(spec)) return Object.entries(spec).forEach(([k, s]) => checkAxes(s, `${field}.${k}`, fail));
  fail(field, `expected an axis (an integer), null, or a list or dict of them; got ${describe(spec)}`);
}

function checkProgram(program: unknown, fail: Fail): number {
  const field = 'config.program';
  if (!isRecord(program)) fail(field, `expected an object {signature, nodes, result}; got ${describe(program)}`);
  for (const k of Object.keys(program)) if (!['signature', 'nodes', 'result'].includes(k)) fail(`${field}.${k}`, 'unknown key; a program has exactly signature, nodes and result');
  for (const k of ['signature', 'nodes', 'result']) if (!Object.hasOwn(program, k)) fail(`${field}.${k}`, 'missing');
  const { signature, nodes, result } = program;
  if (!Array.isArray(signature)) fail(`${field}.signature`, `expected a list of parameter pytrees; got ${describe(signature)}`);
  const defined = new Set<string>();
  for (const leaf of nameLeaves(signature, `${field}.signature`, fail)) {
    if (defined.has(leaf.name)) fail(leaf.field, `the name '${leaf.name}' is bound twice`);
    defined.add(leaf.name);
  }
  if (!Array.isArray(nodes) || nodes.length === 0) fail(`${field}.nodes`, `expected a non-empty list of nodes; got ${describe(nodes)}`);
  nodes.forEach((node, i) => {
    const at = `${field}.nodes[${i}]`;
    if (!isRecord(node)) fail(at, `expected a node {id, op, args, ...}; got ${describe(node)}`);
    const op = typeof node.op === 'string' ? NODE_OPS.get(node.op) : undefined;
    if (!op) fail(`${at}.op`, `unknown op ${describe(node.op)}; expected one of ${[...NODE_OPS.keys()].join(', ')}`);
    const keys = ['id', 'op', 'args', ...Object.keys(op.attributes)];
    for (const k of Object.keys(node)) if (!keys.includes(k)) fail(`${at}.${k}`, `unknown key for op ${node.op}; a ${node.op} node has exactly ${keys.join(', ')}`);
    for (const k of keys) if (!Object.hasOwn(node, k)) fail(`${at}.${k}`, `missing (a ${node.op} node needs it)`);
    if (typeof node.id !== 'string' || node.id === '') fail(`${at}.id`, `expected a non-empty string; got ${describe(node.id)}`);
    if (defined.has(node.id)) fail(`${at}.id`, `the name '${node.id}' is already bound`);
    const args = node.args;
    const [least, most] = op.arity;
    if (!Array.isArray(args) || args.length < least || args.length > most) {
      const wanted = least === most ? `${least}` : most === Infinity ? `at least ${least}` : `${least} to ${most}`;
      fail(`${at}.args`, `expected ${wanted} arguments for ${node.op}; got ${describe(args)}`);
    }
    args.forEach((a, k) => {
      if (typeof a === 'number' ? !Number.isFinite(a) : typeof a !== 'string' || !defined.has(a)) {
        fail(`${at}.args[${k}]`, `expected a name bound before this node or a finite number; got ${describe(a)}`);
      }
    });
    for (const [k, kind] of Object.entries(op.attributes)) {
      if (!ATTRIBUTE_CHECKS[kind].ok(node[k])) fail(`${at}.${k}`, `expected ${ATTRIBUTE_CHECKS[kind].what}; got ${describe(node[k])}`);
    }
    defined.add(node.id);
  });
  for (const leaf of nameLeaves(result, `${field}.result`, fail)) {
    if (!defined.has(leaf.name)) fail(leaf.field, `names '${leaf.name}', which no parameter or node binds`);
  }
  return signature.length;
}

/** Check a transform expression; returns the arity of the function it denotes and its derivative order. */
function checkTransform(e: unknown, field: string, programArity: number, fail: Fail): { arity: number; order: number } {
  if (e === 'f') return { arity: programArity, order: 0 };
  if (!isRecord(e)) fail(field, `expected "f" or a transform {transform, fn, ...}; got ${describe(e)}`);
  const name = e.transform;
  if (typeof name !== 'string' || !Object.hasOwn(TRANSFORM_KEYS, name)) {
    fail(`${field}.transform`, `unknown transform ${describe(name)}; expected one of ${Object.keys(TRANSFORM_KEYS).join(', ')}`);
  }
  const kind = name as TransformName;
  const keys = TRANSFORM_KEYS[kind];
  for (const k of Object.keys(e)) if (!keys.includes(k)) fail(`${field}.${k}`, `unknown key for ${kind}; expected exactly ${keys.join(', ')}`);
  for (const k of keys) if (!Object.hasOwn(e, k)) fail(`${field}.${k}`, `missing (${kind} needs it)`);
  const inner = checkTransform(e.fn, `${field}.fn`, programArity, fail);
  if (kind === 'vmap') {
    const inAxes = e.in_axes;
    // A list gives one entry per positional argument; a bare axis or null applies to all.
    if (Array.isArray(inAxes) && inAxes.length !== inner.arity) fail(`${field}.in_axes`, `has ${inAxes.length} entries but the function takes ${inner.arity} arguments`);
    if (isRecord(inAxes)) fail(`${field}.in_axes`, 'expected an integer, null or a list with one entry per argument; got a dict');
    checkAxes(inAxes, `${field}.in_axes`, fail);
    checkAxes(e.out_axes, `${field}.out_axes`, fail);
  } else {
    const argnums = e.argnums;
    const listOnly = kind === 'jvp' || kind === 'vjp';
    const list = Array.isArray(argnums) ? argnums : listOnly ? null : [argnums];
    if (list === null || list.length === 0) fail(`${field}.argnums`, `expected a non-empty list of argument positions for ${kind}; got ${describe(argnums)}`);
    list.forEach((a) => {
      if (!isInt(a) || a < 0 || a >= inner.arity) fail(`${field}.argnums`, `expected positions 0..${inner.arity - 1} (the function takes ${inner.arity} arguments); got ${describe(argnums)}`);
    });
    if (new Set(list).size !== list.length) fail(`${field}.argnums`, `lists a position twice: ${describe(argnums)}`);
    if (kind === 'grad' && typeof e.has_aux !== 'boolean') fail(`${field}.has_aux`, `expected true or false; got ${describe(e.has_aux)}`);
  }
  // jvp and vjp turn f into a function of (primals, tangents) and (primals, cotangent).
  const arity = kind === 'jvp' || kind === 'vjp' ? 2 : inner.arity;
  return { arity, order: inner.order + ORDER[kind] };
}

/** The `transforms` part of validate.ts's checkConfig. */
export function checkTransformsCase(c: Record<string, unknown>, fail: Fail): void {
  const config = c.config as Record<string, unknown>;
  const inputs = c.inputs as Record<string, { dtype?: string }>;
  for (const k of Object.keys(c.params as object)) fail(`params.${k}`, 'unknown parameter: transforms cases keep every tensor in inputs (params is {})');
  for (const [k, t] of Object.entries(inputs)) if (t.dtype !== undefined) fail(`inputs.${k}.dtype`, `expected a float tensor (no dtype); got ${describe(t.dtype)}`);

  const programArity = checkProgram(config.program, fail);
  const { arity, order } = checkTransform(config.transform, 'config.transform', programArity, fail);

  const args = config.args;
  if (!Array.isArray(args)) fail('config.args', `expected a list of argument pytrees; got ${describe(args)}`);
  if (args.length !== arity) fail('config.args', `has ${args.length} arguments but the transformed function takes ${arity}`);
  const used = new Set<string>();
  for (const leaf of nameLeaves(args, 'config.args', fail)) {
    if (!Object.hasOwn(inputs, leaf.name)) fail(leaf.field, `names '${leaf.name}', which is not in inputs`);
    used.add(leaf.name);
  }
  for (const k of Object.keys(inputs)) if (!used.has(k)) fail(`inputs.${k}`, 'unknown input (config.args never names it)');

  // Result keys are "out" plus "/<index>" or "/<key>" per level, and exactly the expected keys.
  const expected = c.expected as Record<string, unknown>;
  const keys = new Set<string>();
  for (const leaf of nameLeaves(config.result, 'config.result', fail)) {
    const key = ['out', ...leaf.path].join('/');
    if (leaf.name !== key) fail(leaf.field, `expected the key '${key}' at this place; got '${leaf.name}'`);
    if (!Object.hasOwn(expected, key)) fail(leaf.field, `names '${key}', which has no expected value`);
    keys.add(key);
  }
  for (const k of Object.keys(expected)) if (!keys.has(k)) fail(`expected.${k}`, 'unknown key (config.result does not place it)');

  const stated = config.derivative_order;
  if (stated !== order) fail('config.derivative_order', `is ${describe(stated)} but the transform differentiates ${order} times`);
  const documented = TRANSFORMS_TOLERANCE[order];
  if (!documented) fail('config.transform', `differentiates ${order} times; the format documents orders 0, 1 and 2`);
  for (const k of ['rtol', 'atol'] as const) {
    if ((c[k] as number) > documented[k]) fail(k, `${c[k]} is looser than the format's ${documented[k]} for derivative order ${order}`);
  }
  if (Object.hasOwn(config, 'note') && typeof config.note !== 'string') fail('config.note', `expected a string; got ${describe(config.note)}`);
}
