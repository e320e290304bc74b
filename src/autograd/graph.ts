/**
 * Export the graph that produced a tensor, for teaching and debugging: DOT (Graphviz) or
 * Mermaid text. Each op node shows its name, attributes, output shape and the shapes of the
 * tensors it saved for backward; leaves show their label (or "input"/"const") and shape.
 */
import { formatShape } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { tensorArgument } from './operands.js';

/** One tensor of an exported graph (graphOf): an op's output, a leaf or a constant. */
export interface GraphNode {
  /** Identifier unique within one export: `n0`, `n1`, … in topological order. */
  id: string;
  /** 'op' for a recorded op's output, 'leaf' for a tensor that requires grad, 'const' for one that does not. */
  kind: 'op' | 'leaf' | 'const';
  /** The op's name with its attributes (`sum(axes=[0])`), or the leaf's `label` ('input'/'const' when unset). */
  label: string;
  /** The tensor's shape. */
  shape: readonly number[];
  /** The tensor's dtype. */
  dtype: string;
  /** For op nodes: shapes of saved tensors (empty after the graph was freed). */
  saved: (readonly number[])[];
  /** For op nodes: whether backward already released the saved tensors (no retainGraph); false otherwise. */
  freed: boolean;
}

/** A data dependency of an exported graph: tensor `from` is input number `input` of op `to`. */
export interface GraphEdge {
  /** Id of the input tensor's node. */
  from: string;
  /** Id of the op node that consumed it. */
  to: string;
  /** Input position of `from` in the op `to`. */
  input: number;
}

/**
 * The graph behind `root` as plain data (nodes in topological order, root last), plus the
 * tensor behind each node id (for tools that show values or step through backward, such as
 * the playground; `nodes` and `edges` alone are JSON-serialisable).
 */
export function graphOf(root: Tensor): {
  /** Every tensor the root depends on through recorded ops, in topological order (root last). */
  nodes: GraphNode[];
  /** Input → op edges, one per input position (a tensor used twice gives two edges). */
  edges: GraphEdge[];
  /** The tensor behind each node id (not serialisable). */
  tensors: Map<string, Tensor>;
} {
  tensorArgument('graphOf', root);
  const ids = new Map<Tensor, string>();
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  const visit = (t: Tensor): string => {
    const known = ids.get(t);
    if (known) return known;
    const inputIds = t.node ? t.node.inputs.map(visit) : [];
    const id = `n${ids.size}`;
    ids.set(t, id);
    if (t.node) {
      const { op, ctx } = t.node;
      const attrs = op.describe ? op.describe(ctx.attrs) : '';
      nodes.push({
        id,
        kind: 'op',
        label: attrs ? `${op.name}(${attrs})` : op.name,
        shape: t.shape,
        dtype: t.dtype,
        saved: ctx.savedShapes(),
        freed: ctx.freed,
      });
      inputIds.forEach((from, input) => edges.push({ from, to: id, input }));
    } else {
      nodes.push({
        id,
        kind: t.requiresGrad ? 'leaf' : 'const',
        label: t.label ?? (t.requiresGrad ? 'input' : 'const'),
        shape: t.shape,
        dtype: t.dtype,
        saved: [],
        freed: false,
      });
    }
    return id;
  };
  visit(root);
  return { nodes, edges, tensors: new Map([...ids].map(([t, id]) => [id, t])) };
}

function describe(n: GraphNode): string {
  const saved =
    n.kind !== 'op' ? '' : n.freed ? '\\nsaved: (freed)' : n.saved.length ? `\\nsaved: ${n.saved.map(formatShape).join(' ')}` : '';
  return `${n.label}\\n${formatShape(n.shape)} ${n.dtype}${saved}`;
}

/** Graphviz DOT text: `dot -Tsvg` renders it. */
export function toDot(root: Tensor): string {
  const { nodes, edges } = graphOf(tensorArgument('toDot', root));
  const lines = ['digraph gradscope {', '  rankdir=LR;', '  node [fontname="Helvetica", fontsize=10];'];
  for (const n of nodes) {
    const style = n.kind === 'op' ? 'shape=box, style=rounded' : n.kind === 'leaf' ? 'shape=ellipse, style=bold' : 'shape=ellipse';
    lines.push(`  ${n.id} [label="${describe(n).replace(/"/g, '\\"')}", ${style}];`);
  }
  for (const e of edges) lines.push(`  ${e.from} -> ${e.to} [label="${e.input}"];`);
  lines.push('}');
  return lines.join('\n');
}

/** Mermaid flowchart text (renders in GitHub Markdown and many documentation tools). */
export function toMermaid(root: Tensor): string {
  const { nodes, edges } = graphOf(tensorArgument('toMermaid', root));
  const lines = ['flowchart LR'];
  for (const n of nodes) {
    const text = describe(n).replace(/\\n/g, '<br/>').replace(/"/g, '#quot;');
    lines.push(n.kind === 'op' ? `  ${n.id}["${text}"]` : `  ${n.id}(["${text}"])`);
  }
  for (const e of edges) lines.push(`  ${e.from} -->|${e.input}| ${e.to}`);
  return lines.join('\n');
}
