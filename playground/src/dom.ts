/** Tiny DOM helpers shared by the panels. */

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string | boolean | number> = {}, ...children: (Node | string | null | undefined)[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false) continue;
    if (k === 'text') node.textContent = String(v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

/** A number as the page shows it (6 significant digits; the exact value is in the results JSON). */
export function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-4) return v.toExponential(3);
  return String(Number(v.toPrecision(6)));
}

/** A tensor's values in its shape, as text. */
export function formatTensor(shape: readonly number[], values: readonly number[]): string {
  if (shape.length === 0) return fmt(values[0]!);
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const rec = (axis: number, offset: number, indent: string): string => {
    if (axis === shape.length - 1) return `[${Array.from({ length: shape[axis]! }, (_, i) => fmt(values[offset + i]!)).join(', ')}]`;
    const parts = Array.from({ length: shape[axis]! }, (_, i) => rec(axis + 1, offset + i * strides[axis]!, indent + ' '));
    return `[${parts.join(',\n' + indent + ' ')}]`;
  };
  return rec(0, 0, '');
}

export function shapeText(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

/** The hidden JSON element of a panel: what the e2e tests compare with Node. */
export function resultsElement(id: string): HTMLOutputElement {
  const out = h('output', { id, class: 'results-json', 'aria-hidden': 'true' });
  return out;
}

export function setState(panel: HTMLElement, state: 'idle' | 'running' | 'done' | 'error'): void {
  panel.dataset['state'] = state;
}

/**
 * The end of a panel's run: on success say how long it took, expose the result as JSON (the
 * browser tests read it) and render it; on failure show the message. Sets the panel's state.
 */
export async function showRun<T>(
  where: { panel: HTMLElement; status: HTMLElement; results: HTMLOutputElement },
  work: () => T | Promise<T>,
  render: (result: T) => void,
): Promise<void> {
  const t0 = performance.now();
  try {
    const result = await work();
    const ms = performance.now() - t0;
    where.status.textContent = `Done in ${ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(1)} s`}.`;
    where.results.textContent = JSON.stringify(result);
    render(result);
    setState(where.panel, 'done');
  } catch (error) {
    where.status.textContent = (error as Error).message;
    setState(where.panel, 'error');
  }
}

export function table(head: string[], rows: (string | number | Node)[][], leftColumns = 1): HTMLTableElement {
  const t = h('table');
  t.append(h('thead', {}, h('tr', {}, ...head.map((c, i) => h('th', { class: i < leftColumns ? 'left' : '', scope: 'col', text: c })))));
  const body = h('tbody');
  for (const r of rows) body.append(h('tr', {}, ...r.map((c, i) => h('td', { class: i < leftColumns ? 'left' : '' }, typeof c === 'number' ? fmt(c) : c))));
  t.append(body);
  return t;
}
