/**
 * The expression lab's computation, shared by the page and the e2e tests (which run it in
 * Node and compare with what the page shows).
 *
 * A program is a list of variables (`x = [1, 2, 3]`, JSON-style nested arrays, float64, each
 * a leaf that requires grad) and one expression over them:
 *
 *   expr  := term (('+' | '-') term)*
 *   term  := unary (('*' | '/' | '@') unary)*        @ is matmul
 *   unary := '-' unary | power
 *   power := atom ('^' unary)?                       right-associative
 *   atom  := number | name | name '(' expr ')' | name '(' expr ',' expr ')' | '(' expr ')'
 *
 * No `eval`: the parser builds a small tree and the evaluator calls gradscope's Tensor methods.
 * A non-scalar result is differentiated through its sum (and the page says so).
 *
 * What is computed:
 * - the forward value and the graph (graphOf: op nodes, shapes, saved tensors);
 * - the backward pass node by node: the engine's own loop (reverse topological order,
 *   `op.backward(ctx, gradOut)`, unbroadcast, accumulate) run one node at a time, recording the
 *   gradient arriving at each node and what it sends to each input; the final leaf gradients
 *   are checked against `gradients()`;
 * - central differences for every element (h = 1e-6, float64);
 * - a gradient of a gradient: ∂/∂v (Σᵢ ∂f/∂uᵢ) for the first variable u and every variable v
 *   (= H·1 when v = u), with `createGraph`, checked by central differences of the gradient.
 */
import { gradients, topologicalOrder, unbroadcast } from '../../../src/autograd/engine.js';
import { noGrad, withGradMode } from '../../../src/autograd/mode.js';
import {
  acos,
  acosh,
  asin,
  asinh,
  atan,
  atan2,
  atanh,
  ceil,
  cos,
  cosh,
  erf,
  erfc,
  expm1,
  floor,
  gelu,
  graphOf,
  hardtanh,
  leakyRelu,
  log1p,
  logSigmoid,
  mish,
  round,
  rsqrt,
  silu,
  sin,
  sinh,
  softsign,
  tan,
  tensor,
  type NestedArray,
  type Tensor,
} from '../../../src/index.js';

// ---- parsing ---------------------------------------------------------------------------------

export type Ast =
  | { kind: 'num'; value: number }
  | { kind: 'var'; name: string }
  | { kind: 'call'; fn: string; arg: Ast }
  | { kind: 'call2'; fn: string; left: Ast; right: Ast }
  | { kind: 'neg'; arg: Ast }
  | { kind: 'bin'; op: '+' | '-' | '*' | '/' | '@' | '^'; left: Ast; right: Ast };

/** Functions an expression may call: name → what it does to a tensor. */
export const FUNCTIONS: Record<string, (t: Tensor) => Tensor> = {
  exp: (t) => t.exp(),
  log: (t) => t.log(),
  tanh: (t) => t.tanh(),
  sigmoid: (t) => t.sigmoid(),
  relu: (t) => t.relu(),
  softplus: (t) => t.softplus(),
  sqrt: (t) => t.sqrt(),
  abs: (t) => t.abs(),
  square: (t) => t.square(),
  sum: (t) => t.sum(),
  mean: (t) => t.mean(),
  max: (t) => t.max(),
  logsumexp: (t) => t.logsumexp(),
  softmax: (t) => t.softmax(-1),
  transpose: (t) => t.transpose(),
  // The math ops of docs/ops-math.md (functions of gradscope, not Tensor methods).
  sin,
  cos,
  tan,
  asin,
  acos,
  atan,
  sinh,
  cosh,
  asinh,
  acosh,
  atanh,
  erf,
  erfc,
  log1p,
  expm1,
  reciprocal: (t) => t.reciprocal(),
  rsqrt,
  gelu: (t) => gelu(t),
  geluTanh: (t) => gelu(t, 'tanh'),
  silu,
  mish,
  logSigmoid,
  softsign,
  leakyRelu: (t) => leakyRelu(t),
  hardtanh: (t) => hardtanh(t),
  // Piecewise constant: zero gradient (they add no node to the graph).
  floor,
  ceil,
  round,
};

/** Functions of two arguments, `name(a, b)`; either may be a plain number, not both. */
export const FUNCTIONS2: Record<string, (a: Tensor | number, b: Tensor | number) => Tensor> = {
  atan2,
};

export class ExpressionError extends Error {
  override name = 'ExpressionError';
}

type Token = { type: 'num'; value: number; at: number } | { type: 'name'; value: string; at: number } | { type: 'sym'; value: string; at: number };

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (/[0-9.]/.test(c)) {
      const m = /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/.exec(text.slice(i))!;
      tokens.push({ type: 'num', value: Number(m[0]), at: i });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i))!;
      tokens.push({ type: 'name', value: m[0], at: i });
      i += m[0].length;
    } else if ('+-*/@^(),'.includes(c)) {
      tokens.push({ type: 'sym', value: c, at: i });
      i++;
    } else {
      throw new ExpressionError(`unexpected character '${c}' at position ${i + 1}`);
    }
  }
  return tokens;
}

export function parseExpression(text: string): Ast {
  const tokens = tokenize(text);
  let pos = 0;
  const peek = () => tokens[pos];
  const isSym = (v: string) => peek()?.type === 'sym' && peek()!.value === v;
  const expect = (v: string) => {
    if (!isSym(v)) throw new ExpressionError(`expected '${v}' ${peek() ? `at position ${peek()!.at + 1}` : 'at the end'}`);
    pos++;
  };
  const expr = (): Ast => {
    let left = term();
    while (isSym('+') || isSym('-')) {
      const op = tokens[pos++]!.value as '+' | '-';
      left = { kind: 'bin', op, left, right: term() };
    }
    return left;
  };
  const term = (): Ast => {
    let left = unary();
    while (isSym('*') || isSym('/') || isSym('@')) {
      const op = tokens[pos++]!.value as '*' | '/' | '@';
      left = { kind: 'bin', op, left, right: unary() };
    }
    return left;
  };
  const unary = (): Ast => {
    if (isSym('-')) {
      pos++;
      return { kind: 'neg', arg: unary() };
    }
    return power();
  };
  const power = (): Ast => {
    const base = atom();
    if (isSym('^')) {
      pos++;
      return { kind: 'bin', op: '^', left: base, right: unary() };
    }
    return base;
  };
  const atom = (): Ast => {
    const t = peek();
    if (!t) throw new ExpressionError('the expression ends too early');
    if (t.type === 'num') {
      pos++;
      return { kind: 'num', value: t.value };
    }
    if (t.type === 'name') {
      pos++;
      if (isSym('(')) {
        if (FUNCTIONS2[t.value]) {
          pos++;
          const left = expr();
          expect(',');
          const right = expr();
          expect(')');
          return { kind: 'call2', fn: t.value, left, right };
        }
        if (!FUNCTIONS[t.value]) {
          throw new ExpressionError(`unknown function '${t.value}'; known: ${[...Object.keys(FUNCTIONS), ...Object.keys(FUNCTIONS2)].join(', ')}`);
        }
        pos++;
        const arg = expr();
        expect(')');
        return { kind: 'call', fn: t.value, arg };
      }
      return { kind: 'var', name: t.value };
    }
    if (t.value === '(') {
      pos++;
      const inner = expr();
      expect(')');
      return inner;
    }
    throw new ExpressionError(`unexpected '${t.value}' at position ${t.at + 1}`);
  };
  const ast = expr();
  if (pos < tokens.length) throw new ExpressionError(`unexpected '${String(tokens[pos]!.value)}' at position ${tokens[pos]!.at + 1}`);
  return ast;
}

/** A variable of the program: its name, values and shape. */
export interface VariableSpec {
  name: string;
  values: NestedArray;
  shape: number[];
}

function shapeOf(values: unknown, name: string): number[] {
  if (typeof values === 'number') return [];
  if (!Array.isArray(values) || values.length === 0) throw new ExpressionError(`${name}: expected a number or a non-empty nested array`);
  const inner = shapeOf(values[0], name);
  for (const v of values) {
    if (JSON.stringify(shapeOf(v, name)) !== JSON.stringify(inner)) throw new ExpressionError(`${name}: the nested arrays are ragged`);
  }
  return [values.length, ...inner];
}

/** Parse variable lines `name = [..]`; blank lines and lines starting with # are ignored. */
export function parseVariables(text: string): VariableSpec[] {
  const out: VariableSpec[] = [];
  for (const [k, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.+)$/.exec(line);
    if (!m) throw new ExpressionError(`line ${k + 1}: expected 'name = [values]'`);
    const [, name, json] = m as unknown as [string, string, string];
    if (FUNCTIONS[name] || FUNCTIONS2[name]) throw new ExpressionError(`line ${k + 1}: '${name}' is a function name`);
    let values: unknown;
    try {
      values = JSON.parse(json);
    } catch {
      throw new ExpressionError(`line ${k + 1}: '${json}' is not a number or a nested array of numbers`);
    }
    const shape = shapeOf(values, name);
    if (shape.reduce((a, b) => a * b, 1) > 256) throw new ExpressionError(`${name}: at most 256 elements in the playground`);
    if (out.some((v) => v.name === name)) throw new ExpressionError(`line ${k + 1}: '${name}' is defined twice`);
    out.push({ name, values: values as NestedArray, shape });
  }
  if (out.length === 0) throw new ExpressionError('define at least one variable, e.g. x = [1, 2, 3]');
  return out;
}

/** Evaluate the tree with gradscope ops. */
export function evaluate(ast: Ast, env: ReadonlyMap<string, Tensor>): Tensor | number {
  switch (ast.kind) {
    case 'num':
      return ast.value;
    case 'var': {
      const t = env.get(ast.name);
      if (!t) throw new ExpressionError(`unknown variable '${ast.name}'; defined: ${[...env.keys()].join(', ')}`);
      return t;
    }
    case 'neg': {
      const a = evaluate(ast.arg, env);
      return typeof a === 'number' ? -a : a.neg();
    }
    case 'call': {
      const a = evaluate(ast.arg, env);
      if (typeof a === 'number') throw new ExpressionError(`${ast.fn}: apply it to a variable expression, not a plain number`);
      return FUNCTIONS[ast.fn]!(a);
    }
    case 'call2': {
      const a = evaluate(ast.left, env);
      const b = evaluate(ast.right, env);
      if (typeof a === 'number' && typeof b === 'number') throw new ExpressionError(`${ast.fn}: apply it to a variable expression, not two plain numbers`);
      return FUNCTIONS2[ast.fn]!(a, b);
    }
    case 'bin': {
      const a = evaluate(ast.left, env);
      const b = evaluate(ast.right, env);
      if (typeof a === 'number' && typeof b === 'number') {
        const ops = { '+': a + b, '-': a - b, '*': a * b, '/': a / b, '^': a ** b, '@': NaN };
        if (ast.op === '@') throw new ExpressionError('@ needs two tensors');
        return ops[ast.op];
      }
      if (typeof a === 'number') {
        // number ∘ tensor: written with the tensor on the left where the op allows it.
        const t = b as Tensor;
        if (ast.op === '+') return t.add(a);
        if (ast.op === '*') return t.mul(a);
        if (ast.op === '-') return t.neg().add(a);
        if (ast.op === '/') return t.reciprocal().mul(a);
        if (ast.op === '^') return tensor(a, { dtype: t.dtype }).pow(t);
        throw new ExpressionError('@ needs two tensors');
      }
      const t = a;
      switch (ast.op) {
        case '+':
          return t.add(b);
        case '-':
          return t.sub(b);
        case '*':
          return t.mul(b);
        case '/':
          return t.div(b);
        case '^':
          return t.pow(b);
        case '@':
          if (typeof b === 'number') throw new ExpressionError('@ needs two tensors');
          return t.matmul(b);
      }
    }
  }
}

// ---- running a program -----------------------------------------------------------------------

export interface ShownTensor {
  shape: number[];
  values: number[];
}

export interface LabNode {
  id: string;
  kind: 'op' | 'leaf' | 'const';
  label: string;
  shape: number[];
  value: number[];
  /** Op nodes: the tensors saved for backward (shape and values). */
  saved: ShownTensor[];
}

export interface BackwardStep {
  /** The op node processed in this step. */
  node: string;
  label: string;
  /** ∂f/∂(this node's output): the gradient arriving here. */
  gradOut: ShownTensor;
  /** What the op's backward sends to each input (after unbroadcast). */
  sends: { to: string; input: number; grad: ShownTensor }[];
}

export interface VariableGradient {
  name: string;
  shape: number[];
  value: number[];
  /** From the step-by-step backward. */
  analytic: number[];
  /** From `gradients()` (must equal `analytic`). */
  engine: number[];
  /** Central differences. */
  numeric: number[];
}

export interface ExpressionResult {
  expression: string;
  /** True when the output was not a scalar and its sum was differentiated. */
  summed: boolean;
  output: ShownTensor;
  /** The differentiated scalar f. */
  f: number;
  nodes: LabNode[];
  edges: { from: string; to: string; input: number }[];
  steps: BackwardStep[];
  variables: VariableGradient[];
  /** max |analytic − numeric| over all elements. */
  maxFdError: number;
  /** max |step-by-step − gradients()|. */
  maxEngineError: number;
  secondOrder: {
    /** The variable u of Σᵢ ∂f/∂uᵢ. */
    of: string;
    /** Number of op nodes in the graph of Σᵢ ∂f/∂uᵢ (the backward pass recorded as a graph). */
    backwardGraphOps: number;
    /** ∂/∂v (Σᵢ ∂f/∂uᵢ) for each variable v, analytic and by central differences of the gradient. */
    gradients: { name: string; analytic: number[]; numeric: number[] }[];
    maxFdError: number;
  };
}

const H = 1e-6;

function show(t: Tensor): ShownTensor {
  return { shape: [...t.shape], values: Array.from(t.contiguous().toTypedArray(), Number) };
}

function leaves(specs: readonly VariableSpec[], requireGrad: boolean): Map<string, Tensor> {
  return new Map(
    specs.map((s) => {
      const t = tensor(s.values, { dtype: 'float64' });
      if (requireGrad) t.requireGrad();
      t.label = s.name;
      return [s.name, t];
    }),
  );
}

function scalarOf(ast: Ast, env: ReadonlyMap<string, Tensor>): { out: Tensor; f: Tensor; summed: boolean } {
  const value = evaluate(ast, env);
  if (typeof value === 'number') throw new ExpressionError('the expression does not use any variable');
  const summed = value.size !== 1;
  return { out: value, f: summed ? value.sum() : value.reshape([]), summed };
}

/** f at the given variable values (no graph), for finite differences. */
function fAt(ast: Ast, specs: readonly VariableSpec[], values: Map<string, Float64Array>): number {
  return noGrad(() => {
    const env = new Map(specs.map((s) => [s.name, tensor(values.get(s.name)!, { shape: s.shape, dtype: 'float64' })]));
    return scalarOf(ast, env).f.item();
  });
}

function flatValues(specs: readonly VariableSpec[]): Map<string, Float64Array> {
  return new Map(specs.map((s) => [s.name, Float64Array.from(tensor(s.values, { dtype: 'float64' }).toTypedArray())]));
}

/** Central differences of a scalar function of all variables, one element at a time. */
function centralDifferences(specs: readonly VariableSpec[], fn: (values: Map<string, Float64Array>) => number): Map<string, number[]> {
  const base = flatValues(specs);
  const out = new Map<string, number[]>();
  for (const s of specs) {
    const v = base.get(s.name)!;
    const d: number[] = [];
    for (let i = 0; i < v.length; i++) {
      const keep = v[i]!;
      v[i] = keep + H;
      const plus = fn(base);
      v[i] = keep - H;
      const minus = fn(base);
      v[i] = keep;
      d.push((plus - minus) / (2 * H));
    }
    out.set(s.name, d);
  }
  return out;
}

function maxAbsDiff(a: readonly number[], b: readonly number[]): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/**
 * The engine's backward loop, one node at a time (engine.ts runBackward, with every gradient
 * recorded and the graph retained).
 */
function stepBackward(f: Tensor, idOf: (t: Tensor) => string, isLeaf: (t: Tensor) => boolean): { steps: BackwardStep[]; grads: Map<Tensor, Tensor> } {
  const { order, leads } = topologicalOrder([f], isLeaf);
  const grads = new Map<Tensor, Tensor>([[f, tensor(1, { dtype: f.dtype }).reshape(f.shape)]]);
  const steps: BackwardStep[] = [];
  withGradMode(false, () => {
    for (let k = order.length - 1; k >= 0; k--) {
      const t = order[k]!;
      const g = grads.get(t);
      if (!g) continue;
      const node = t.node!;
      node.ctx.needsInputGrad = node.inputs.map((i) => i.requiresGrad && leads.has(i));
      const inputGrads = node.op.backward(node.ctx, g);
      const sends: BackwardStep['sends'] = [];
      node.inputs.forEach((input, i) => {
        if (!node.ctx.needsInputGrad[i]) return;
        const gi = unbroadcast(inputGrads[i]!, input.shape);
        sends.push({ to: idOf(input), input: i, grad: show(gi) });
        const previous = grads.get(input);
        grads.set(input, previous ? previous.add(gi) : gi);
      });
      steps.push({ node: idOf(t), label: node.op.name, gradOut: show(g), sends });
    }
  });
  return { steps, grads };
}

/** Everything the expression lab shows for one program. */
export function runExpression(variablesText: string, expressionText: string): ExpressionResult {
  const specs = parseVariables(variablesText);
  const ast = parseExpression(expressionText);
  const env = leaves(specs, true);
  const { out, f, summed } = withGradMode(true, () => scalarOf(ast, env));
  if (!f.requiresGrad) throw new ExpressionError('the expression does not depend on any variable');

  const graph = graphOf(f);
  const idOf = new Map([...graph.tensors].map(([id, t]) => [t, id]));
  const nodes: LabNode[] = graph.nodes.map((n) => {
    const t = graph.tensors.get(n.id)!;
    return {
      id: n.id,
      kind: n.kind,
      label: n.label,
      shape: [...n.shape],
      value: show(t).values,
      saved: t.node ? t.node.ctx.saved.map(show) : [],
    };
  });
  const leafTensors = [...env.values()];
  const { steps, grads } = stepBackward(f, (t) => idOf.get(t)!, (t) => leafTensors.includes(t));
  const engine = gradients([f], leafTensors, { retainGraph: true, allowUnused: true });
  const numeric = centralDifferences(specs, (values) => fAt(ast, specs, values));
  const variables: VariableGradient[] = specs.map((s, k) => {
    const leaf = env.get(s.name)!;
    const analytic = grads.get(leaf) ?? tensor(0, { dtype: 'float64' }).expand(leaf.shape);
    return {
      name: s.name,
      shape: s.shape,
      value: show(leaf).values,
      analytic: show(analytic).values,
      engine: show(engine[k]!).values,
      numeric: numeric.get(s.name)!,
    };
  });

  // Gradient of a gradient: s = Σᵢ ∂f/∂uᵢ recorded as a graph, then ∂s/∂v.
  const u = specs[0]!.name;
  const second = withGradMode(true, () => {
    const env2 = leaves(specs, true);
    const f2 = scalarOf(ast, env2).f;
    const [gu] = gradients([f2], [env2.get(u)!], { createGraph: true });
    const s = gu!.sum();
    const opsInBackward = s.requiresGrad ? graphOf(s).nodes.filter((n) => n.kind === 'op').length : 0;
    const gg = s.requiresGrad ? gradients([s], [...env2.values()], { allowUnused: true }) : [...env2.values()].map((t) => t.mul(0));
    return { opsInBackward, gg };
  });
  const sumOfGradient = (values: Map<string, Float64Array>): number =>
    withGradMode(true, () => {
      const env3 = new Map(specs.map((s) => [s.name, tensor(values.get(s.name)!, { shape: s.shape, dtype: 'float64' }).requireGrad()]));
      const f3 = scalarOf(ast, env3).f;
      return gradients([f3], [env3.get(u)!], { allowUnused: true })[0]!.sum().item();
    });
  const numeric2 = centralDifferences(specs, sumOfGradient);
  const secondGradients = specs.map((s, k) => ({ name: s.name, analytic: show(second.gg[k]!).values, numeric: numeric2.get(s.name)! }));

  return {
    expression: expressionText,
    summed,
    output: show(out),
    f: f.item(),
    nodes,
    edges: graph.edges,
    steps,
    variables,
    maxFdError: Math.max(...variables.map((v) => maxAbsDiff(v.analytic, v.numeric))),
    maxEngineError: Math.max(...variables.map((v) => maxAbsDiff(v.analytic, v.engine))),
    secondOrder: {
      of: u,
      backwardGraphOps: second.opsInBackward,
      gradients: secondGradients,
      maxFdError: Math.max(...secondGradients.map((g) => maxAbsDiff(g.analytic, g.numeric))),
    },
  };
}

/** Example programs offered by the page. */
export const EXAMPLES: { name: string; variables: string; expression: string }[] = [
  { name: 'x³ (gradient 3x², then 6x)', variables: 'x = [1, 2, 3]', expression: 'sum(x^3)' },
  { name: 'd/dx sin x = cos x (then −sin x)', variables: 'x = [0, 0.5, 1, 1.5]', expression: 'sum(sin(x))' },
  { name: 'GELU and the angle atan2(y, x)', variables: 'x = [-1.5, 0.5, 2]\ny = [1, -0.25, 0.75]', expression: 'sum(gelu(x) * atan2(y, x))' },
  { name: 'A neuron: sigmoid(x @ w + b)', variables: 'x = [[1, 2, 3]]\nw = [[0.5], [-0.3], [0.8]]\nb = [[0.1]]', expression: 'sigmoid(x @ w + b)' },
  { name: 'Fan-in: x used three times', variables: 'x = [0.5, -1, 2]', expression: 'sum(x * exp(x) + tanh(x))' },
  { name: 'Broadcasting: bias added to every row', variables: 'W = [[1, -2], [0.5, 1], [-1, 0.25]]\nb = [0.1, -0.2]', expression: 'mean(relu(W + b) ^ 2)' },
  { name: 'Softmax cross-entropy', variables: 'z = [2, 1, 0.1]\ny = [1, 0, 0]', expression: 'logsumexp(z) - sum(z * y)' },
];
