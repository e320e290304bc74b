/**
 * Strided loops, compiled once per scalar function.
 *
 * Every elementwise kernel of the CPU backend is the same loop nest: walk an output and some
 * inputs of one shape, each with its own strides and offset, and apply a body to each element.
 * Instead of calling a scalar function through a table at every element (a megamorphic call
 * V8 cannot inline), we generate the loop's source once per body, with the scalar function
 * pasted in as a local constant, and compile it with `new Function`. V8 then inlines the
 * scalar function into a tight loop. The generated code is cached by key.
 *
 * Three layouts are handled by the same generated function:
 * - contiguous: every operand row-major (any offset) — one flat loop, checked first and
 *   without calling `coalesce`, whose small allocations would dominate tiny tensors;
 * - strided/broadcast: after `coalesce`, an odometer over the outer axes and a strided (or
 *   unit-stride) inner loop;
 * - reducing along the inner axis (the output's inner stride is 0, as in a row sum): the
 *   inner loop accumulates in a local variable and stores once, instead of a load and a
 *   store of the same element per step.
 */
import type { TypedArray } from '../../tensor/dtype.js';
import type { Shape } from '../../tensor/shape.js';

/** One operand of a loop: where its element [0,…,0] is and how to step along each axis. */
export interface LoopOperand {
  /** The storage the operand's elements live in. */
  readonly data: TypedArray;
  /** Index in `data` of element [0, …, 0]. */
  readonly offset: number;
  /** Step in `data` along each axis of the loop's shape (0 broadcasts). */
  readonly strides: readonly number[];
}

/**
 * Merge adjacent axes that every operand walks contiguously (stride[d] = stride[d+1]·shape[d+1])
 * and drop size-1 axes. Shorter loop nests with longer inner loops are much faster, and a
 * fully contiguous set of operands becomes a single flat loop.
 */
export function coalesce(
  shape: Shape,
  strides: readonly (readonly number[])[],
): {
  /** The merged shape, without size-1 axes (empty for a single element). */
  shape: number[];
  /** Each operand's strides over the merged shape, in the order given. */
  strides: number[][];
} {
  const operands = strides.length;
  const outShape: number[] = [];
  const outStrides: number[][] = [];
  for (let k = 0; k < operands; k++) outStrides.push([]);
  for (let d = 0; d < shape.length; d++) {
    const size = shape[d]!;
    if (size === 1) continue;
    const last = outShape.length - 1;
    let mergeable = last >= 0;
    for (let k = 0; k < operands && mergeable; k++) mergeable = outStrides[k]![last] === strides[k]![d]! * size;
    if (mergeable) {
      outShape[last] = outShape[last]! * size;
      for (let k = 0; k < operands; k++) outStrides[k]![last] = strides[k]![d]!;
    } else {
      outShape.push(size);
      for (let k = 0; k < operands; k++) outStrides[k]!.push(strides[k]![d]!);
    }
  }
  return { shape: outShape, strides: outStrides };
}

/** Whether `strides` walk `shape` in row-major order without gaps (size-1 axes are free). */
export function isRowMajor(shape: Shape, strides: readonly number[]): boolean {
  let expected = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    const size = shape[d]!;
    if (size !== 1 && strides[d] !== expected) return false;
    expected *= size;
  }
  return true;
}

/**
 * A compiled loop: `run(shape, out, inputs, p, q)`. `body` is source text using `OUT` (the
 * output element, assignable), `IN0`, `IN1`, … (input elements), `f` (the pasted function,
 * if any) and the numeric parameters `p`, `q`.
 */
export type CompiledLoop = (
  shape: Shape,
  out: LoopOperand,
  inputs: readonly LoopOperand[],
  p?: number,
  q?: number,
) => void;

const cache = new Map<string, CompiledLoop>();

/**
 * The loop for `body` over `arity` inputs, compiled once per (`key`, arity) with `new Function`
 * and cached: `fn`'s source is pasted in as `f` so that V8 can inline it, and inner loops
 * where every input steps by 1 or 0 get specialised branches. `key` must name `body` and
 * `fn` uniquely (e.g. 'map:exp').
 */
export function compileLoop(key: string, arity: number, body: string, fn?: (...args: number[]) => number): CompiledLoop {
  const cacheKey = `${key}/${arity}`;
  const hit = cache.get(cacheKey);
  if (hit) return hit;
  const ops = Array.from({ length: arity + 1 }, (_, k) => k); // operand 0 is the output
  const elem = (k: number, index: string) => (k === 0 ? `d0[${index}]` : `d${k}[${index}]`);
  const fill = (index: (k: number) => string) =>
    body.replace(/OUT/g, elem(0, index(0))).replace(/IN(\d+)/g, (_, i) => elem(Number(i) + 1, index(Number(i) + 1)));
  // The body with the output element replaced by the local accumulator `acc`.
  const fillAccumulator = (index: (k: number) => string) =>
    body.replace(/OUT/g, 'acc').replace(/IN(\d+)/g, (_, i) => elem(Number(i) + 1, index(Number(i) + 1)));
  const operand = (k: number) => (k === 0 ? 'out' : `inputs[${k - 1}]`);
  // Inner loops where each input steps by 1 or is broadcast (stride 0) along the inner axis —
  // a bias over rows, an outer product x[i]·g[j]: the broadcast values are loaded once per row
  // instead of once per element. One branch per pattern of unit/zero inputs.
  const inputs = ops.slice(1);
  const broadcastBranches = Array.from({ length: 2 ** inputs.length }, (_, mask) => mask)
    .filter((mask) => mask !== 0)
    .map((mask) => {
      const zero = (k: number) => (mask & (1 << (k - 1))) !== 0;
      const condition = ['t0 === 1', ...inputs.map((k) => (zero(k) ? `t${k} === 0` : `t${k} === 1`))].join(' && ');
      const hoisted = inputs.filter(zero).map((k) => `const h${k} = d${k}[b${k}];`).join(' ');
      const element = (offset: string) =>
        body
          .replace(/OUT/g, `d0[b0 + ${offset}]`)
          .replace(/IN(\d+)/g, (_, i) => (zero(Number(i) + 1) ? `h${Number(i) + 1}` : `d${Number(i) + 1}[b${Number(i) + 1} + ${offset}]`));
      // Unrolled by four: these loops carry B × P outer products, and the unrolled form
      // measured ≈ 25 % faster there.
      return `else if (${condition}) { ${hoisted}
        let j = 0;
        for (; j + 3 < inner; j += 4) { ${element('j')}; ${element('j + 1')}; ${element('j + 2')}; ${element('j + 3')}; }
        for (; j < inner; j++) { ${element('j')}; } }`;
    })
    .join('\n');
  const src = `
    ${fn ? `const f = ${fn.toString()};` : ''}
    return function loop(shape, out, inputs, p, q) {
      ${ops.map((k) => `const d${k} = ${operand(k)}.data;`).join('\n')}
      if (${ops.map((k) => `isRowMajor(shape, ${operand(k)}.strides)`).join(' && ')}) {
        let n = 1;
        for (let d = 0; d < shape.length; d++) n *= shape[d];
        ${ops.map((k) => `const o${k} = ${operand(k)}.offset;`).join(' ')}
        // Fresh tensors start at offset 0, and indexing with j alone saves an add (and V8's
        // overflow check) per operand per element: ≈ 25 % on a float32 add.
        if (${ops.map((k) => `o${k} === 0`).join(' && ')}) {
          for (let j = 0; j < n; j++) { ${fill(() => 'j')}; }
        } else {
          for (let j = 0; j < n; j++) { ${fill((k) => `o${k} + j`)}; }
        }
        return;
      }
      const c = coalesce(shape, [${ops.map((k) => `${operand(k)}.strides`).join(', ')}]);
      const dims = c.shape, rank = dims.length;
      ${ops.map((k) => `const s${k} = c.strides[${k}];`).join('\n')}
      ${ops.map((k) => `let b${k} = ${operand(k)}.offset;`).join('\n')}
      if (rank === 0) { ${fill((k) => `b${k}`)}; return; }
      const inner = dims[rank - 1];
      ${ops.map((k) => `const t${k} = s${k}[rank - 1];`).join('\n')}
      let outer = 1;
      for (let d = 0; d < rank - 1; d++) outer *= dims[d];
      const unit = ${ops.map((k) => `t${k} === 1`).join(' && ')};
      const idx = new Int32Array(rank);
      for (let r = 0; r < outer; r++) {
        if (unit) {
          for (let j = 0; j < inner; j++) { ${fill((k) => `b${k} + j`)}; }
        } ${broadcastBranches}
        else if (t0 === 0) {
          // Every step updates the same output element: keep it in a register.
          let acc = d0[b0];
          ${ops.slice(1).map((k) => `let i${k} = b${k};`).join(' ')}
          for (let j = 0; j < inner; j++) {
            ${fillAccumulator((k) => `i${k}`)};
            ${ops.slice(1).map((k) => `i${k} += t${k};`).join(' ')}
          }
          d0[b0] = acc;
        } else {
          ${ops.map((k) => `let i${k} = b${k};`).join(' ')}
          for (let j = 0; j < inner; j++) {
            ${fill((k) => `i${k}`)};
            ${ops.map((k) => `i${k} += t${k};`).join(' ')}
          }
        }
        for (let d = rank - 2; d >= 0; d--) {
          ${ops.map((k) => `b${k} += s${k}[d];`).join(' ')}
          if (++idx[d] < dims[d]) break;
          ${ops.map((k) => `b${k} -= s${k}[d] * dims[d];`).join(' ')}
          idx[d] = 0;
        }
      }
    };`;
  const loop = new Function('coalesce', 'isRowMajor', src)(coalesce, isRowMajor) as CompiledLoop;
  cache.set(cacheKey, loop);
  return loop;
}
