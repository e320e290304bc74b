/**
 * Panel 1: the expression lab. Type variables and an expression (or pick an example); see the
 * forward value and the autograd graph; step through backward node by node; compare with
 * finite differences; take a gradient of a gradient.
 */
import { EXAMPLES, FUNCTIONS, FUNCTIONS2, runExpression, type ExpressionResult, type LabNode } from '../core/expression.js';
import { fmt, formatTensor, h, resultsElement, setState, shapeText, table } from '../dom.js';

const SVG = 'http://www.w3.org/2000/svg';

function svgEl<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

interface Layout {
  x: Map<string, number>;
  y: Map<string, number>;
  width: number;
  height: number;
}

const NODE_W = 150;
const NODE_H = 50;

/** Layered layout: column = longest path from a source; rows in order of appearance. */
function layout(r: ExpressionResult): Layout {
  const depth = new Map<string, number>();
  for (const n of r.nodes) {
    const ins = r.edges.filter((e) => e.to === n.id).map((e) => depth.get(e.from) ?? 0);
    depth.set(n.id, ins.length ? Math.max(...ins) + 1 : 0);
  }
  const columns = new Map<number, string[]>();
  for (const n of r.nodes) {
    const d = depth.get(n.id)!;
    columns.set(d, [...(columns.get(d) ?? []), n.id]);
  }
  const x = new Map<string, number>();
  const y = new Map<string, number>();
  let rows = 1;
  for (const [d, ids] of columns) {
    rows = Math.max(rows, ids.length);
    ids.forEach((id, i) => {
      x.set(id, 12 + d * (NODE_W + 40));
      y.set(id, 12 + i * (NODE_H + 22));
    });
  }
  return { x, y, width: 24 + columns.size * (NODE_W + 40) - 40, height: 24 + rows * (NODE_H + 22) - 22 };
}

function nodeText(n: LabNode): [string, string] {
  const saved = n.kind === 'op' ? (n.saved.length ? `saved ${n.saved.map((s) => shapeText(s.shape)).join(' ')}` : 'saved nothing') : n.kind;
  return [n.label.length > 22 ? n.label.slice(0, 21) + '…' : n.label, `${shapeText(n.shape)} · ${saved}`];
}

export function mountExpressionPanel(panel: HTMLElement): void {
  const example = h(
    'select',
    { id: 'expr-example', 'aria-label': 'Example expressions' },
    ...EXAMPLES.map((e, i) => h('option', { value: i, text: e.name })),
    h('option', { value: 'custom', text: '(your own: edit the fields below)', disabled: true }),
  );
  const vars = h('textarea', { id: 'expr-vars', spellcheck: 'false', 'aria-label': 'Variables, one per line: name = [values]' });
  const expr = h('input', { id: 'expr-input', type: 'text', spellcheck: 'false', 'aria-label': 'Expression' });
  const run = h('button', { id: 'expr-run', class: 'primary', type: 'button', text: 'Run forward + backward' });
  const status = h('p', { class: 'status', id: 'expr-status', 'aria-live': 'polite' });
  const forward = h('div', { id: 'expr-forward' });
  const graphBox = h('div', { id: 'expr-graph' });
  const detail = h('div', { id: 'expr-node-detail', class: 'box', 'aria-live': 'polite' }, 'Select a node (click, or Tab to it and press Enter) to see its value and saved tensors.');
  const prev = h('button', { id: 'expr-step-prev', type: 'button', text: '◀ Previous step', disabled: true });
  const next = h('button', { id: 'expr-step-next', type: 'button', text: 'Next step ▶', disabled: true });
  const all = h('button', { id: 'expr-step-all', type: 'button', text: 'Run all steps', disabled: true });
  const stepLabel = h('span', { id: 'expr-step-label', class: 'status', 'aria-live': 'polite' });
  const stepDetail = h('div', { id: 'expr-step-detail', class: 'box' });
  const grads = h('div', { id: 'expr-gradients' });
  const second = h('div', { id: 'expr-second' });
  const results = resultsElement('expression-results');

  panel.append(
    h('h2', { text: 'Expression lab' }),
    h('p', { class: 'note', text: `Variables are float64 leaves that require grad. Operators: + − * / ^ and @ (matmul); functions: ${Object.keys(FUNCTIONS).join(', ')}; of two arguments: ${Object.keys(FUNCTIONS2).join(', ')}. A non-scalar result is differentiated through its sum.` }),
    h('div', { class: 'row' },
      h('div', { class: 'col' },
        h('label', { for: 'expr-example', text: 'Example' }), example,
        h('label', { for: 'expr-vars', text: 'Variables' }), vars,
        h('label', { for: 'expr-input', text: 'Expression f' }), expr,
        h('p', {}, run), status, forward),
      h('div', { class: 'col' }, h('h3', { text: 'Backward, node by node' }), h('p', {}, prev, ' ', next, ' ', all, ' ', stepLabel), stepDetail),
    ),
    h('h3', { text: 'The autograd graph (op nodes with output shape and the tensors saved for backward)' }),
    h('p', { class: 'note', text: 'Yellow: variables (leaves). Pink frame: the op whose backward the current step shows, pink edges: where its gradients go. Green: ops whose backward already ran.' }),
    graphBox,
    detail,
    h('div', { class: 'row' }, h('div', { class: 'col' }, h('h3', { text: 'Gradients vs finite differences' }), grads), h('div', { class: 'col' }, h('h3', { text: 'A gradient of a gradient' }), second)),
    results,
  );

  let result: ExpressionResult | null = null;
  let step = 0; // number of backward steps done
  let selected: string | null = null;

  const loadExample = (i: number) => {
    vars.value = EXAMPLES[i]!.variables;
    expr.value = EXAMPLES[i]!.expression;
  };
  loadExample(0);
  const markCustom = () => {
    example.value = 'custom';
  };
  vars.addEventListener('input', markCustom);
  expr.addEventListener('input', markCustom);
  example.addEventListener('change', () => {
    loadExample(Number(example.value));
    compute();
  });

  const gradOf = (id: string): { shape: number[]; values: number[] } | null => {
    // The gradient accumulated at a node after `step` steps: the sum of what was sent to it.
    if (!result) return null;
    if (step > 0 && result.steps[0]!.node === id) return result.steps[0]!.gradOut;
    const sends = result.steps.slice(0, step).flatMap((s) => s.sends.filter((x) => x.to === id));
    if (sends.length === 0) return null;
    const values = sends[0]!.grad.values.map((_, j) => sends.reduce((a, s) => a + s.grad.values[j]!, 0));
    return { shape: sends[0]!.grad.shape, values };
  };

  const showDetail = () => {
    if (!result || !selected) return;
    const n = result.nodes.find((m) => m.id === selected)!;
    const g = gradOf(n.id);
    detail.replaceChildren(
      h('strong', { text: `${n.label}` }), ` — ${n.kind}, shape ${shapeText(n.shape)}`,
      h('div', { class: 'tensor', text: `value = ${formatTensor(n.shape, n.value)}` }),
      ...n.saved.map((s, i) => h('div', { class: 'tensor', text: `saved[${i}] ${shapeText(s.shape)} = ${formatTensor(s.shape, s.values)}` })),
      h('div', { class: 'tensor', text: g ? `∂f/∂(this) so far = ${formatTensor(g.shape, g.values)}` : '∂f/∂(this): not reached by backward yet' }),
    );
  };

  const drawGraph = () => {
    if (!result) return;
    const r = result;
    const L = layout(r);
    const svg = svgEl('svg', { viewBox: `0 0 ${L.width} ${L.height}`, width: L.width, height: L.height, class: 'graph', role: 'group', 'aria-label': 'Autograd graph' });
    const defs = svgEl('defs', {});
    const marker = svgEl('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' });
    marker.append(svgEl('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#8c959f' }));
    defs.append(marker);
    svg.append(defs);
    // The node of the step shown (highlighted, with the edges its gradients flow back along)
    // and the nodes whose backward already ran before it.
    const lastDone = step > 0 ? r.steps[step - 1]! : null;
    const current = lastDone?.node ?? null;
    const done = new Set(r.steps.slice(0, Math.max(0, step - 1)).map((s) => s.node));
    for (const e of r.edges) {
      const x1 = L.x.get(e.from)! + NODE_W;
      const y1 = L.y.get(e.from)! + NODE_H / 2;
      const x2 = L.x.get(e.to)!;
      const y2 = L.y.get(e.to)! + NODE_H / 2;
      const active = lastDone !== null && lastDone.node === e.to && lastDone.sends.some((s) => s.to === e.from && s.input === e.input);
      svg.append(svgEl('path', { d: `M${x1},${y1} C${x1 + 20},${y1} ${x2 - 20},${y2} ${x2},${y2}`, class: `edge${active ? ' active' : ''}`, 'marker-end': 'url(#arrow)' }));
    }
    for (const n of r.nodes) {
      const classes = ['node', n.kind, n.id === current ? 'current' : '', done.has(n.id) ? 'done' : '', n.id === selected ? 'selected' : ''].filter(Boolean).join(' ');
      const [line1, line2] = nodeText(n);
      const g = svgEl('g', { class: classes, tabindex: 0, role: 'button', 'data-node': n.id, 'aria-label': `${n.label}, shape ${shapeText(n.shape)}${n.kind === 'op' ? `, saved ${n.saved.length} tensors` : ''}` });
      g.append(svgEl('rect', { x: L.x.get(n.id)!, y: L.y.get(n.id)!, width: NODE_W, height: NODE_H, rx: n.kind === 'op' ? 6 : 20 }));
      g.append(svgEl('text', { x: L.x.get(n.id)! + 8, y: L.y.get(n.id)! + 20 }, line1));
      g.append(svgEl('text', { x: L.x.get(n.id)! + 8, y: L.y.get(n.id)! + 38, class: 'sub' }, line2));
      const select = () => {
        selected = n.id;
        drawGraph();
        showDetail();
        (graphBox.querySelector(`[data-node="${n.id}"]`) as SVGGElement | null)?.focus();
      };
      g.addEventListener('click', select);
      g.addEventListener('keydown', (ev) => {
        if (ev.key === 'Enter' || ev.key === ' ') {
          ev.preventDefault();
          select();
        }
      });
      svg.append(g);
    }
    graphBox.replaceChildren(svg);
  };

  const drawStep = () => {
    if (!result) return;
    const r = result;
    prev.disabled = step === 0;
    next.disabled = step >= r.steps.length;
    all.disabled = step >= r.steps.length;
    stepLabel.textContent = `step ${step} of ${r.steps.length}`;
    panel.dataset['step'] = String(step);
    if (step === 0) {
      stepDetail.replaceChildren(h('p', { text: `Backward starts at f with ∂f/∂f = 1 and visits the op nodes in reverse topological order (${r.steps.length} steps). Press “Next step”.` }));
    } else {
      const s = r.steps[step - 1]!;
      const label = (id: string) => r.nodes.find((n) => n.id === id)!.label;
      stepDetail.replaceChildren(
        h('p', {}, h('strong', { text: `Step ${step}: ${s.label}` }), ` (node ${s.node})`),
        h('div', { class: 'tensor', text: `gradOut = ∂f/∂(output) = ${formatTensor(s.gradOut.shape, s.gradOut.values)}` }),
        ...s.sends.map((x) => h('div', { class: 'tensor', text: `→ input ${x.input} (${label(x.to)}) receives ${formatTensor(x.grad.shape, x.grad.values)}` })),
        ...(s.sends.length === 0 ? [h('p', { text: 'No input needs a gradient.' })] : []),
      );
    }
    drawGraph();
    showDetail();
  };

  const drawTables = () => {
    if (!result) return;
    const r = result;
    forward.replaceChildren(
      h('div', { class: 'box' },
        h('div', { class: 'tensor', id: 'expr-output', text: `output ${shapeText(r.output.shape)} = ${formatTensor(r.output.shape, r.output.values)}` }),
        h('div', { class: 'tensor', id: 'expr-f', text: `f${r.summed ? ' = sum(output)' : ''} = ${fmt(r.f)}` }),
      ),
    );
    const rows = r.variables.flatMap((v) => v.value.map((x, i) => [`${v.name}[${i}]`, x, v.analytic[i]!, v.numeric[i]!, Math.abs(v.analytic[i]! - v.numeric[i]!)]));
    grads.replaceChildren(
      table(['element', 'value', '∂f/∂· (backward)', 'central difference (h = 1e-6)', '|difference|'], rows),
      h('p', {}, h('span', { class: r.maxFdError < 1e-4 ? 'ok' : 'error', text: `max |backward − finite difference| = ${fmt(r.maxFdError)}` }), ` · step-by-step backward vs gradients(): max difference ${fmt(r.maxEngineError)}`),
    );
    const so = r.secondOrder;
    const rows2 = so.gradients.flatMap((g) => g.analytic.map((x, i) => [`${g.name}[${i}]`, x, g.numeric[i]!, Math.abs(x - g.numeric[i]!)]));
    second.replaceChildren(
      h('p', { class: 'note', text: `g(·) = Σᵢ ∂f/∂${so.of}ᵢ is itself a graph of ${so.backwardGraphOps} ops (backward recorded with createGraph); differentiating it gives ∂g/∂v — for v = ${so.of} this is the Hessian times a vector of ones.` }),
      table(['element v', `∂/∂v Σᵢ ∂f/∂${so.of}ᵢ`, 'central difference of the gradient', '|difference|'], rows2),
      h('p', {}, h('span', { class: so.maxFdError < 1e-3 ? 'ok' : 'error', text: `max difference ${fmt(so.maxFdError)}` })),
    );
  };

  const compute = () => {
    setState(panel, 'running');
    try {
      result = runExpression(vars.value, expr.value);
      step = 0;
      selected = result.nodes[result.nodes.length - 1]!.id;
      status.textContent = `${result.nodes.length} graph nodes, ${result.steps.length} backward steps.`;
      status.classList.remove('error');
      results.textContent = JSON.stringify({ variables: vars.value, expression: expr.value, result });
      drawTables();
      drawStep();
      setState(panel, 'done');
    } catch (error) {
      result = null;
      status.textContent = (error as Error).message;
      status.classList.add('error');
      results.textContent = JSON.stringify({ error: (error as Error).message });
      for (const node of [forward, graphBox, grads, second, stepDetail]) node.replaceChildren();
      setState(panel, 'error');
    }
  };

  run.addEventListener('click', compute);
  expr.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') compute();
  });
  prev.addEventListener('click', () => {
    step = Math.max(0, step - 1);
    drawStep();
  });
  next.addEventListener('click', () => {
    if (result) step = Math.min(result.steps.length, step + 1);
    drawStep();
  });
  all.addEventListener('click', () => {
    if (result) step = result.steps.length;
    drawStep();
  });
  compute();
}
