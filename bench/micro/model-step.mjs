/**
 * The model steps of bench/micro/steps-ab.mjs and step-ops.mjs: the gradient of LeNet-5
 * (BatchNorm in eval or train mode, `mode` 'eval' | 'train') or of the 784-256-256-10 MLP
 * ('mlp') at batch 128, with the library `gs` (an import of some build's dist/index.js). The
 * returned step reads the loss and every gradient back and returns the loss; with `scoped`, inside
 * gs.tidy, as the bench rows and train() run it (the build must have tidy).
 */
export function modelStep(gs, mode, scoped = false) {
  const model = mode === 'mlp' ? gs.mlp([784, 256, 256, 10], { seed: 0 }) : gs.lenet5({ seed: 0 });
  if (mode === 'train') model.train();
  else model.eval();
  const params = model.parameters();
  const x = gs.randn(mode === 'mlp' ? [128, 784] : [128, 1, 28, 28], { seed: 1 });
  const y = new Int32Array(128).map((_, i) => i % 10);
  const step = () => {
    const loss = gs.crossEntropy(model.forward(x), y);
    for (const grad of gs.gradients([loss], params)) grad.toTypedArray();
    return loss.item();
  };
  return scoped ? () => gs.tidy(step) : step;
}
