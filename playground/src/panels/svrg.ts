/** Panel 3: SVRG vs SGD, live in a Web Worker, with switches for the three practical complications. */
import { POSITIONS, type SvrgPanelResult, type SvrgProgress, type SvrgSwitches } from '../core/svrg.js';
import { fmt, h, resultsElement, setState, showRun, table } from '../dom.js';
import { linePlot } from '../plot.js';
import { request } from '../worker-client.js';

export function mountSvrgPanel(panel: HTMLElement): void {
  const box = (id: string, text: string) => {
    const input = h('input', { type: 'checkbox', id, checked: true });
    return { input, label: h('label', { class: 'inline', for: id }, input, text) };
  };
  const transform = box('svrg-transform', 'transform locking (same shifted images at w̃)');
  const dropout = box('svrg-dropout', 'dropout locking (same masks at w̃)');
  const bnReset = box('svrg-bnreset', 'BatchNorm reset (snapshot passes keep the running statistics)');
  const run = h('button', { id: 'svrg-run', class: 'primary', type: 'button', text: 'Train SGD and SVRG' });
  const status = h('p', { class: 'status', id: 'svrg-status', 'aria-live': 'polite' });
  const out = h('div', { id: 'svrg-output' });
  const results = resultsElement('svrg-results');
  panel.append(
    h('h2', { text: 'SVRG vs SGD' }),
    h('p', { class: 'note', text: 'An MLP (784 → 32 → BatchNorm → ReLU → Dropout 0.2 → 10, float64) trained on 320 bundled MNIST digits with a random ±2-pixel shift, 3 epochs, batch 16, learning rate 0.05, once with SGD and once with SVRG (snapshot w̃ and full gradient μ̃ at every epoch start). At 0, ¼, ½ and ¾ of each epoch the variance of both estimators is measured over a fixed partition of 80 other digits into minibatches of 8: R = V_SVRG / V_SGD. At 0 the iterate is the snapshot, so with every switch on R = 0 exactly; switch one off and see what breaks. Training runs in a Web Worker: the page stays responsive.' }),
    h('fieldset', { class: 'box' }, h('legend', { text: 'Switches (Defazio & Bottou’s practical complications)' }), transform.label, dropout.label, bnReset.label),
    h('p', {}, run),
    status,
    out,
    results,
  );

  const render = (r: SvrgPanelResult) => {
    const steps = (n: number) => Array.from({ length: n }, (_, i) => i);
    const epochs = r.snapshotStatsDrift.length;
    const lines = Array.from({ length: epochs - 1 }, (_, e) => (e + 1) * r.stepsPerEpoch);
    out.replaceChildren(
      h('div', { class: 'row' },
        h('div', { class: 'col' }, linePlot(
          [
            { name: 'SGD', x: steps(r.sgdLosses.length), y: r.sgdLosses },
            { name: 'SVRG', x: steps(r.svrgLosses.length), y: r.svrgLosses },
          ],
          { title: 'Minibatch training loss', xLabel: 'step (dashed lines: epoch boundaries, SVRG snapshots)', yLabel: 'cross-entropy', vLines: lines, width: 560 },
        )),
        h('div', { class: 'col' }, linePlot(
          Array.from({ length: epochs }, (_, e) => {
            const pts = r.ratios.filter((p) => p.epoch === e);
            return { name: `epoch ${e + 1}`, x: pts.map((p) => p.position), y: pts.map((p) => p.ratio) };
          }),
          { title: 'Variance ratio inside each epoch', xLabel: 'position in the epoch (fraction of its steps)', yLabel: 'R = V_SVRG / V_SGD', width: 560 },
        )),
      ),
      table(
        ['epoch', ...POSITIONS.map((p) => `R at ${p}`), 'BN statistics moved by the snapshot pass', 'accuracy SGD', 'accuracy SVRG'],
        Array.from({ length: epochs }, (_, e) => [
          String(e + 1),
          ...POSITIONS.map((p) => r.ratios.find((q) => q.epoch === e && Math.abs(q.position - p) < 0.13)?.ratio ?? NaN),
          r.snapshotStatsDrift[e]!,
          r.sgdAccuracy[e]!,
          r.svrgAccuracy[e]!,
        ]),
      ),
      h('p', { class: 'note', text: `Cost in sample-gradient evaluations: SGD ${r.sgdCost}, SVRG ${r.svrgCost}. Accuracy: eval mode (running statistics) on the 80 evaluation digits. Switches: ${JSON.stringify(r.switches)}.` }),
    );
  };

  run.addEventListener('click', async () => {
    const switches: SvrgSwitches = { transformLock: transform.input.checked, dropoutLock: dropout.input.checked, bnReset: bnReset.input.checked };
    run.disabled = true;
    setState(panel, 'running');
    status.textContent = 'Training in the worker…';
    try {
      await showRun(
        { panel, status, results },
        () =>
          request<SvrgPanelResult>({ kind: 'svrg', options: { switches } }, (p) => {
            const q = p as SvrgProgress;
            status.textContent = `${q.phase.toUpperCase()}: step ${q.step} of ${q.totalSteps}, epoch mean loss ${fmt(q.loss)}`;
          }),
        render,
      );
    } finally {
      run.disabled = false;
    }
  });
}
