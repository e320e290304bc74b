/** Panel 4: sharpness for two learning-rate / batch-size ratios, in the worker. */
import type { SharpnessProgress, SharpnessResult } from '../core/sharpness.js';
import { h, resultsElement, setState, showRun, table } from '../dom.js';
import { linePlot } from '../plot.js';
import { request } from '../worker-client.js';

export function mountSharpnessPanel(panel: HTMLElement): void {
  const run = h('button', { id: 'sharp-run', class: 'primary', type: 'button', text: 'Train both and measure' });
  const status = h('p', { class: 'status', id: 'sharp-status', 'aria-live': 'polite' });
  const out = h('div', { id: 'sharp-output' });
  const results = resultsElement('sharpness-results');
  panel.append(
    h('h2', { text: 'Sharpness' }),
    h('p', { class: 'note', text: 'Two SGD runs of an MLP (784 → 16 → 10, float64) from the same initialisation on 320 bundled MNIST digits, 6 epochs, with two ratios of learning rate to batch size η/B. After every epoch: the top eigenvalue λ₁ of the Hessian of the training loss on 64 fixed digits (Lanczos, 12 iterations, each a Hessian-vector product by double backward). At the end: the loss along the line between the two solutions, L(α) = F((1 − α)·w_A + α·w_B) — α = 0 is the first run, α = 1 the second.' }),
    h('p', { class: 'note', text: 'Read it as a measuring instrument, not a reproduction: Jastrzębski et al. compare λ₁ at equal training loss, late in training; in these few tiny epochs λ₁ mostly grows as a run leaves the flat initial region, and the large-η/B run gets further.' }),
    h('p', {}, run),
    status,
    out,
    results,
  );

  const render = (r: SharpnessResult) => {
    out.replaceChildren(
      h('div', { class: 'row' },
        h('div', { class: 'col' }, linePlot(
          r.runs.map((run) => ({ name: run.label, x: run.topEigenvalue.map((_, e) => e), y: run.topEigenvalue })),
          { title: 'Top Hessian eigenvalue during training', xLabel: 'epoch', yLabel: 'λ₁ of the training loss', width: 560 },
        )),
        h('div', { class: 'col' }, linePlot(
          r.line.map((c) => ({ name: c.name, x: r.alphas, y: c.loss })),
          { title: 'Loss along the line between the two solutions', xLabel: 'α  (0: large η/B solution, 1: small η/B solution)', yLabel: 'mean cross-entropy', width: 560, vLines: [0, 1] },
        )),
      ),
      table(
        ['run', 'η/B', 'λ₁ at start', 'λ₁ at the end', 'final minibatch loss'],
        r.runs.map((run) => [run.label, run.ratio, run.topEigenvalue[0]!, run.topEigenvalue[run.topEigenvalue.length - 1]!, run.finalTrainLoss]),
      ),
    );
  };

  run.addEventListener('click', async () => {
    run.disabled = true;
    setState(panel, 'running');
    status.textContent = 'Training in the worker…';
    try {
      await showRun(
        { panel, status, results },
        () =>
          request<SharpnessResult>({ kind: 'sharpness', options: {} }, (p) => {
            const q = p as SharpnessProgress;
            status.textContent = `${q.run}: epoch ${q.epoch} of ${q.epochs}, λ₁ = ${q.topEigenvalue.toFixed(3)}`;
          }),
        render,
      );
    } finally {
      run.disabled = false;
    }
  });
}
