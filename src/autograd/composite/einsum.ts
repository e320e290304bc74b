/**
 * einsum(equation, ...operands): Einstein summation, torch.einsum semantics, as a composite
 * of permute, reshape, expand, slice, sum, mul and matmul — no rules of its own, so its
 * gradients (of any order), JVPs, vmap and per-sample batch axes follow from theirs.
 *
 *   out[output labels] = Σ over the other labels of Π_operands operand[its labels]
 *
 * How it runs:
 *   1. Parse: comma-separated terms of letters (a–z, A–Z) and at most one '...' each, then an
 *      optional '->' and the output term. Without '->' the output is the ellipsis dims, then
 *      the letters that occur exactly once, in alphabetical (character-code) order — NumPy's
 *      implicit mode. Dims under '...' broadcast NumPy-style (aligned on the right), and a
 *      label's dims must agree in size or be 1 (broadcast), as in PyTorch.
 *   2. Each operand alone: a label repeated in one term takes the diagonal (the two axes moved
 *      last and flattened, then every (n+1)-th element: 'ii->i', 'ii->' = trace), and labels
 *      that occur in no other operand and not in the output are summed away early.
 *   3. Operands are contracted left to right, two at a time. With labels shared by both:
 *      batch (kept), contracted (summed) and each side's own labels, the pair is
 *        - a broadcast product when nothing is contracted ('bi,bj->bij'),
 *        - a product and a sum when neither side has a label of its own ('ij,ij->i', 'i,i->'),
 *        - otherwise one matmul: the contracted labels merged into K, one own label of each
 *          side as M and N, everything else a (broadcast) batch dimension of the matmul —
 *          nothing that carries a batch is merged, so per-sample gradients can follow it.
 *   4. What remains is summed over labels not in the output and permuted to its order.
 */
import { assertSameDType } from '../../tensor/dtype.js';
import { assertValue, describeValue, formatShape, ShapeError } from '../../tensor/errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { matmul } from '../ops/matmul.js';
import { sum } from '../ops/sum.js';

/** A label: a letter, or `.k` for the k-th dim (from the left) of the broadcast ellipsis. */
type Label = string;

/** One parsed term: its letters and '...' in order (`null` marks where the ellipsis is). */
type Term = (string | null)[];

/** A tensor with one label per axis. */
interface Labelled {
  t: Tensor;
  labels: Label[];
}

const LETTER = /^[a-zA-Z]$/;

/** Split a term into letters and one ellipsis, or throw naming the bad character. */
function parseTerm(equation: string, term: string, where: string): Term {
  const out: Term = [];
  for (let i = 0; i < term.length; i++) {
    const ch = term[i]!;
    if (ch === '.') {
      assertValue(term.startsWith('...', i), () => `einsum: expected '...' (three dots) in ${where} '${term}' of equation '${equation}'; got a lone '.'`);
      assertValue(!out.includes(null), () => `einsum: ${where} '${term}' of equation '${equation}' has more than one '...'`);
      out.push(null);
      i += 2;
      continue;
    }
    assertValue(
      LETTER.test(ch),
      () => `einsum: invalid character '${ch}' in ${where} '${term}' of equation '${equation}'; expected letters a–z, A–Z, '...', ',' and '->'`,
    );
    out.push(ch);
  }
  return out;
}

/** The ellipsis labels of an operand whose ellipsis covers `count` dims of a total of `total`. */
function ellipsisLabels(count: number, total: number): Label[] {
  return Array.from({ length: count }, (_, k) => `.${total - count + k}`);
}

/** The diagonal over axes i < j of equal size n: both moved last, flattened, every (n+1)-th kept. */
function diagonal(x: Labelled, i: number, j: number): Labelled {
  const n = x.t.shape[i]!;
  const rest = x.t.shape.map((_, d) => d).filter((d) => d !== i && d !== j);
  const moved = x.t.permute([...rest, i, j]);
  const flat = moved.reshape([...rest.map((d) => x.t.shape[d]!), n * n]);
  const diag = flat.slice([...rest.map(() => null), [0, n * n, n + 1]]);
  return { t: diag, labels: [...rest.map((d) => x.labels[d]!), x.labels[i]!] };
}

/** Sum away every label in `drop` (no-op when none is present). */
function sumOut(x: Labelled, drop: (l: Label) => boolean): Labelled {
  const axes = x.labels.map((l, d) => (drop(l) ? d : -1)).filter((d) => d >= 0);
  if (axes.length === 0) return x;
  return { t: sum(x.t, axes), labels: x.labels.filter((l) => !drop(l)) };
}

/** x permuted so that its labels come in `order` (which holds exactly x's labels). */
function arrange(x: Labelled, order: readonly Label[]): Tensor {
  const dims = order.map((l) => x.labels.indexOf(l));
  return dims.every((d, k) => d === k) ? x.t : x.t.permute(dims);
}

/** Contract two labelled tensors, keeping the labels in `keep` (the output's and later operands'). */
function contractPair(a0: Labelled, b0: Labelled, keep: ReadonlySet<Label>, size: (l: Label) => number): Labelled {
  // A label of one side that the other side and the rest do not need is summed right away.
  const a = sumOut(a0, (l) => !keep.has(l) && !b0.labels.includes(l));
  const b = sumOut(b0, (l) => !keep.has(l) && !a0.labels.includes(l));
  const shared = a.labels.filter((l) => b.labels.includes(l));
  const batch = shared.filter((l) => keep.has(l));
  const contracted = shared.filter((l) => !keep.has(l));
  const left = a.labels.filter((l) => !b.labels.includes(l));
  const right = b.labels.filter((l) => !a.labels.includes(l));
  const sizes = (ls: readonly Label[]) => ls.map(size);
  const ones = (ls: readonly Label[]) => ls.map(() => 1);

  if (contracted.length === 0) {
    // A broadcast product: [batch, left, 1…] · [batch, 1…, right].
    const ta = arrange(a, [...batch, ...left]).reshape([...sizes(batch), ...sizes(left), ...ones(right)]);
    const tb = arrange(b, [...batch, ...right]).reshape([...sizes(batch), ...ones(left), ...sizes(right)]);
    return { t: ta.mul(tb), labels: [...batch, ...left, ...right] };
  }
  if (left.length === 0 && right.length === 0) {
    // Dot products along the contracted labels, one per batch position.
    const order = [...batch, ...contracted];
    const product = arrange(a, order).mul(arrange(b, order));
    return { t: sum(product, contracted.map((_, k) => batch.length + k)), labels: batch };
  }
  // One matmul: a [batch, leftExtra, 1…, M, K] @ b [batch, 1…, rightExtra, K, N].
  const m = left.length > 0 ? [left[left.length - 1]!] : [];
  const n = right.length > 0 ? [right[right.length - 1]!] : [];
  const leftExtra = left.slice(0, left.length - m.length);
  const rightExtra = right.slice(0, right.length - n.length);
  const k = sizes(contracted).reduce((p, d) => p * d, 1);
  const mSize = m.length > 0 ? size(m[0]!) : 1;
  const nSize = n.length > 0 ? size(n[0]!) : 1;
  const ta = arrange(a, [...batch, ...leftExtra, ...m, ...contracted]).reshape([...sizes(batch), ...sizes(leftExtra), ...ones(rightExtra), mSize, k]);
  const tb = arrange(b, [...batch, ...rightExtra, ...contracted, ...n]).reshape([...sizes(batch), ...ones(leftExtra), ...sizes(rightExtra), k, nSize]);
  const labels = [...batch, ...leftExtra, ...rightExtra, ...m, ...n];
  return { t: matmul(ta, tb).reshape(sizes(labels)), labels };
}

/**
 * Einstein summation over the operands' labelled axes, as torch.einsum(equation, *operands):
 * `'ij,jk->ik'` is a matrix product, `'bij,bjk->bik'` a batched one, `'i,i->'` a dot product
 * (0-d), `'bi,bj->bij'` batched outer products, `'ij->ji'` a transpose, `'ii->'` a trace,
 * `'...ij,...jk->...ik'` a product broadcast over leading dims. Without '->' the output is
 * the ellipsis dims followed by the labels that occur once, sorted (NumPy's implicit mode).
 * Labels are letters; the dims of one label must agree in size or be 1 (broadcast); a label
 * repeated in one operand takes its diagonal. Contractions run as matmuls where they can.
 * Differentiable in every operand, to any order. Operands: float tensors of one dtype. Throws
 * ValueError for a malformed equation (naming what was expected and what was given) and
 * ShapeError for operands that do not fit it.
 * @example einsum('ij,jk->ik', a, b) // matmul(a, b)
 * @example einsum('bhqd,bhkd->bhqk', q, k) // attention scores
 */
export function einsum(equation: string, ...operands: Tensor[]): Tensor {
  assertValue(typeof equation === 'string', () => `einsum: expected an equation string such as 'ij,jk->ik' as the first argument; got ${describeValue(equation)}`);
  assertValue(operands.length > 0, () => `einsum: expected at least one operand for equation '${equation}'; got none`);
  operands.forEach((t, i) => floatOperand('einsum', t, `operand ${i} to be a Tensor`));
  operands.forEach((t) => assertSameDType('einsum', operands[0]!.dtype, t.dtype));

  const eq = equation.replace(/\s+/g, '');
  const arrows = eq.split('->');
  assertValue(arrows.length <= 2, () => `einsum: expected at most one '->' in equation '${equation}'; got ${arrows.length - 1}`);
  const [lhs, rhs] = arrows as [string, string | undefined];
  const terms = lhs.split(',');
  assertValue(
    terms.length === operands.length,
    () => `einsum: equation '${equation}' has ${terms.length} input term${terms.length === 1 ? '' : 's'} but ${operands.length} operand${operands.length === 1 ? ' was' : 's were'} given`,
  );
  const parsed = terms.map((term, i) => parseTerm(equation, term, `term ${i}`));

  // How many dims each operand's ellipsis covers, and the broadcast ellipsis rank.
  const covered = parsed.map((term, i) => {
    const letters = term.filter((l) => l !== null).length;
    const rank = operands[i]!.rank;
    const hasEllipsis = term.includes(null);
    if (!hasEllipsis) {
      if (rank !== letters) {
        throw new ShapeError(`einsum: operand ${i} has shape ${formatShape(operands[i]!.shape)} (rank ${rank}) but its term '${terms[i]}' names ${letters} dims`);
      }
      return 0;
    }
    if (rank < letters) {
      throw new ShapeError(`einsum: operand ${i} has shape ${formatShape(operands[i]!.shape)} (rank ${rank}) but its term '${terms[i]}' names ${letters} dims besides '...'`);
    }
    return rank - letters;
  });
  const ellipsisRank = Math.max(0, ...covered);
  const anyEllipsis = parsed.some((term) => term.includes(null));

  // Every operand's axis labels, and the size of every label (broadcast over its dims).
  const inputs: Labelled[] = parsed.map((term, i) => ({
    t: operands[i]!,
    labels: term.flatMap((l) => (l === null ? ellipsisLabels(covered[i]!, ellipsisRank) : [l])),
  }));
  const sizes = new Map<Label, { size: number; operand: number }>();
  inputs.forEach(({ t, labels }, i) =>
    labels.forEach((l, d) => {
      const dim = t.shape[d]!;
      const seen = sizes.get(l);
      if (seen === undefined || seen.size === 1) sizes.set(l, { size: dim, operand: i });
      else if (dim !== 1 && dim !== seen.size) {
        const name = l.startsWith('.') ? `the '...' dim ${Number(l.slice(1)) - ellipsisRank}` : `label '${l}'`;
        throw new ShapeError(`einsum: ${name} has size ${seen.size} in operand ${seen.operand} but ${dim} in operand ${i} (sizes must match or be 1)`);
      }
    }),
  );
  const size = (l: Label) => sizes.get(l)!.size;

  // The output's labels: explicit after '->', else NumPy's implicit order.
  let output: Label[];
  if (rhs !== undefined) {
    const term = parseTerm(equation, rhs, 'the output');
    output = term.flatMap((l) => (l === null ? ellipsisLabels(ellipsisRank, ellipsisRank) : [l]));
    for (const l of term) {
      if (l === null) continue;
      assertValue(term.indexOf(l) === term.lastIndexOf(l), () => `einsum: label '${l}' appears more than once in the output '${rhs}' of equation '${equation}'`);
      assertValue(sizes.has(l), () => `einsum: output label '${l}' of equation '${equation}' does not appear in any input term`);
    }
    assertValue(!term.includes(null) || anyEllipsis, () => `einsum: the output of equation '${equation}' has '...' but no input term has one`);
  } else {
    const counts = new Map<string, number>();
    for (const term of parsed) for (const l of term) if (l !== null) counts.set(l, (counts.get(l) ?? 0) + 1);
    const once = [...counts].filter(([, c]) => c === 1).map(([l]) => l).sort();
    output = [...ellipsisLabels(ellipsisRank, ellipsisRank), ...once];
  }

  // Each operand alone: broadcast size-1 dims, take diagonals, sum labels no one else needs.
  const needed = (i: number): Set<Label> => new Set([...output, ...inputs.flatMap((x, j) => (j === i ? [] : x.labels))]);
  const prepared = inputs.map((x0, i) => {
    let x: Labelled = { t: x0.t.expand(x0.labels.map(size)), labels: x0.labels };
    for (let d = 0; d < x.labels.length; d++) {
      const e = x.labels.indexOf(x.labels[d]!, d + 1);
      if (e >= 0) {
        x = diagonal(x, d, e);
        d = -1; // labels moved: look again from the start
      }
    }
    const others = needed(i);
    return sumOut(x, (l) => !others.has(l));
  });

  // Left to right, two at a time; then sum what the output does not keep and order it.
  let acc = prepared[0]!;
  for (let i = 1; i < prepared.length; i++) {
    const keep = new Set<Label>([...output, ...prepared.slice(i + 1).flatMap((x) => x.labels)]);
    acc = contractPair(acc, prepared[i]!, keep, size);
  }
  const outputSet = new Set(output);
  acc = sumOut(acc, (l) => !outputSet.has(l));
  return arrange(acc, output);
}
