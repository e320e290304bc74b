/**
 * Oracle family 3 (`batchnorm.json`): one BatchNorm1d/2d call in train or eval mode: output,
 * gradients (through the batch statistics in train mode), running statistics after the call,
 * and the batch mean and biased variance it normalised with.
 */
import { BatchNorm1d, BatchNorm2d, type FloatDType, gradients } from 'gradscope';
import { inputOf, paramOf, toTensor, type Family, type OracleCase, type Results } from '../format.js';

export const batchnormFamily: Family = {
  missing: (c: OracleCase) => (c.config.op === 'batch_norm1d' || c.config.op === 'batch_norm2d' ? null : String(c.config.op)),

  run(c: OracleCase, dtype: FloatDType): Results {
    const cfg = c.config;
    const x = toTensor(inputOf(c, 'x'), dtype).requireGrad();
    const C = x.shape[1]!;
    const Layer = cfg.op === 'batch_norm1d' ? BatchNorm1d : BatchNorm2d;
    const bn = new Layer(C, { dtype, momentum: cfg.momentum, eps: cfg.eps, affine: cfg.affine });
    bn.restoreStats(
      new Map([
        ['running_mean', toTensor(inputOf(c, 'running_mean'), dtype).toTypedArray()],
        ['running_var', toTensor(inputOf(c, 'running_var'), dtype).toTypedArray()],
      ]),
    );
    if (cfg.affine) bn.assignParameters([toTensor(paramOf(c, 'weight'), dtype), toTensor(paramOf(c, 'bias'), dtype)]);
    bn.train(cfg.training);
    const out = bn.forward(x);
    const inputs = [x, ...bn.parameters()];
    const grads = gradients([out], inputs, { gradOutputs: [toTensor(inputOf(c, 'cotangent'), dtype)] });
    const results: Results = { out: out.detach(), grad_x: grads[0]! };
    if (cfg.affine) {
      results.grad_weight = grads[1]!;
      results.grad_bias = grads[2]!;
    }
    const stats = bn.saveStats();
    results.running_mean_after = toTensor({ shape: [C], data: Array.from(stats.get('running_mean')!) }, dtype);
    results.running_var_after = toTensor({ shape: [C], data: Array.from(stats.get('running_var')!) }, dtype);
    // The batch statistics exist only in train mode (README, family 3); producing them in eval
    // would leave values no file expects, which the runner counts as missing evidence.
    if (cfg.training) {
      const axes = x.shape.map((_, i) => i).filter((i) => i !== 1);
      results.batch_mean = x.detach().mean(axes);
      results.batch_var_biased = x.detach().var(axes, { correction: 0 });
    }
    return results;
  },
};
