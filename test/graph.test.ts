/** graphOf: the tensor behind each node id (used by the playground's backward stepper). */
import { describe, expect, it } from 'vitest';
import { graphOf, tensor } from '../src/index.js';

describe('graphOf tensors', () => {
  it('maps every node id to the tensor it describes', () => {
    const x = tensor([1, 2, 3], { dtype: 'float64' }).requireGrad();
    x.label = 'x';
    const h = x.exp();
    const y = h.mul(x).sum();
    const { nodes, edges, tensors } = graphOf(y);
    expect([...tensors.keys()]).toEqual(nodes.map((n) => n.id));
    const byLabel = (label: string) => tensors.get(nodes.find((n) => n.label.startsWith(label))!.id);
    expect(byLabel('x')).toBe(x);
    expect(byLabel('exp')).toBe(h);
    expect(tensors.get(nodes[nodes.length - 1]!.id)).toBe(y);
    for (const n of nodes) expect(tensors.get(n.id)!.shape).toEqual(n.shape);
    // nodes and edges stay plain data
    expect(JSON.parse(JSON.stringify({ nodes, edges }))).toEqual({ nodes, edges });
  });
});
