/** Panel 2: per-sample gradients of a tiny MLP on a few MNIST digits, with and without BatchNorm in train mode. */
import { bundledData } from '../bundled-data.js';
import { PIXELS } from '../core/data.js';
import { computePerSample, defaultDigits, type PerSampleResult } from '../core/per-sample.js';
import { fmt, h, resultsElement, setState, showRun, table } from '../dom.js';
import { barPlot } from '../plot.js';

function digitCanvas(x: Float32Array): HTMLCanvasElement {
  const canvas = h('canvas', { width: 28, height: 28, 'aria-hidden': 'true' });
  const ctx = canvas.getContext('2d');
  if (!ctx) return canvas;
  const img = ctx.createImageData(28, 28);
  for (let k = 0; k < PIXELS; k++) {
    const v = Math.round(255 * (1 - x[k]!));
    img.data.set([v, v, v, 255], k * 4);
  }
  ctx.putImageData(img, 0, 0);
  return canvas;
}

export function mountPerSamplePanel(panel: HTMLElement): void {
  const run = h('button', { id: 'ps-run', class: 'primary', type: 'button', text: 'Compute per-sample gradients' });
  const status = h('p', { class: 'status', id: 'ps-status', 'aria-live': 'polite' });
  const digits = h('div', { class: 'digits', id: 'ps-digits' });
  const out = h('div', { id: 'ps-output' });
  const results = resultsElement('per-sample-results');
  panel.append(
    h('h2', { text: 'Per-sample gradients' }),
    h('p', { class: 'note', text: 'A tiny MLP (784 → 16 → 10, float64) on 8 MNIST digits. gradscope computes every sample’s gradient natively, in one backward pass (perSampleGrads); their mean is the batch gradient. With BatchNorm in train mode samples interact through the batch statistics: perSampleGrads refuses, and perSampleJacobian gives the exact rows ∂ℓᵢ/∂θ of one batch forward — they still average to the batch gradient, but differ from the eval-mode rows.' }),
    digits,
    h('p', {}, run),
    status,
    out,
    results,
  );
  const data = bundledData();
  for (const i of defaultDigits()) {
    const sample = data.evaluation.get(i);
    digits.append(h('figure', {}, digitCanvas(sample.x as Float32Array), h('figcaption', { text: `label ${sample.y}` })));
  }

  const render = (r: PerSampleResult) => {
    const labels = r.labels.map((l, i) => `#${i} (${l})`);
    const summary = (name: string, s: PerSampleResult['plain']) => [name, s.kind, s.meanNorm, s.batchNorm, s.maxDiff];
    out.replaceChildren(
      h('div', { class: 'row' },
        h('div', { class: 'col' }, barPlot(
          [
            { name: 'no BN', values: r.plain.norms },
            { name: 'BN eval', values: r.bnEval.norms },
            { name: 'BN train (Jacobian)', values: r.bnTrain.norms },
          ],
          labels,
          { title: 'Per-sample gradient norms ‖gᵢ‖', xLabel: 'sample (label)', yLabel: '‖gᵢ‖', width: 600, height: 300 },
        )),
        h('div', { class: 'col' },
          h('h3', { text: 'Mean of the rows against the batch gradient' }),
          table(['model', 'rows', '‖mean of rows‖', '‖batch gradient‖', 'max |difference|'], [
            summary('MLP, no BatchNorm', r.plain),
            summary('MLP + BatchNorm, eval mode', r.bnEval),
            summary('MLP + BatchNorm, train mode', r.bnTrain),
          ], 2),
          h('p', { class: 'note', text: `${r.parameters} parameters. Per-sample losses: ${r.losses.map(fmt).join(', ')}.` }),
          h('h3', { text: 'perSampleGrads with BatchNorm in train mode' }),
          h('p', { class: 'error', id: 'ps-refusal', text: r.refusal }),
        ),
      ),
    );
  };

  run.addEventListener('click', () => {
    setState(panel, 'running');
    status.textContent = 'Computing…';
    // Let the status paint before the (short) computation.
    setTimeout(() => void showRun({ panel, status, results }, () => computePerSample(data.evaluation), render), 20);
  });
}
