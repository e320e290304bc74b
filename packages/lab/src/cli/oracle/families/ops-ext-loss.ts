/**
 * The losses of oracle family 8 (`ops_ext.json`), keyed by config.op: PyTorch's functional
 * names mapped onto gradscope's losses (packages/lab/oracle/README.md, "Family 8"). The operands
 * arrive in config.operands order; `weight` / `pos_weight` are among them only when the case's
 * bool of that name says so, so each is looked up by name. Targets of int64 data arrive as
 * int32 tensors, float targets as floats.
 */
import * as F from 'gradscope';
import type { Tensor } from 'gradscope';

type Config = Record<string, any>;

/** The operand named `name` (config.operands order), or undefined when the case has none. */
function operand(xs: Tensor[], c: Config, name: string): Tensor | undefined {
  const i = (c.operands as string[]).indexOf(name);
  return i < 0 ? undefined : xs[i];
}

// A Map, not an object literal: `'constructor' in {}` is true through Object.prototype.
export const LOSS_OPS: ReadonlyMap<string, (xs: Tensor[], c: Config) => Tensor> = new Map(
  Object.entries({
    nll_loss: (xs, c) =>
      F.nllLoss(operand(xs, c, 'input')!, operand(xs, c, 'target')!, {
        weight: operand(xs, c, 'weight'),
        ignoreIndex: c.ignore_index,
        reduction: c.reduction,
      }),
    cross_entropy: (xs, c) =>
      F.crossEntropy(operand(xs, c, 'input')!, operand(xs, c, 'target')!, {
        weight: operand(xs, c, 'weight'),
        ignoreIndex: c.ignore_index,
        labelSmoothing: c.label_smoothing,
        reduction: c.reduction,
      }),
    binary_cross_entropy: (xs, c) =>
      F.binaryCrossEntropy(operand(xs, c, 'input')!, operand(xs, c, 'target')!, { weight: operand(xs, c, 'weight'), reduction: c.reduction }),
    binary_cross_entropy_with_logits: (xs, c) =>
      F.binaryCrossEntropyWithLogits(operand(xs, c, 'input')!, operand(xs, c, 'target')!, {
        weight: operand(xs, c, 'weight'),
        posWeight: operand(xs, c, 'pos_weight'),
        reduction: c.reduction,
      }),
    kl_div: (xs, c) => F.klDiv(operand(xs, c, 'input')!, operand(xs, c, 'target')!, { reduction: c.reduction, logTarget: c.log_target }),
    huber_loss: (xs, c) => F.huberLoss(operand(xs, c, 'input')!, operand(xs, c, 'target')!, { delta: c.delta, reduction: c.reduction }),
    smooth_l1_loss: (xs, c) => F.smoothL1Loss(operand(xs, c, 'input')!, operand(xs, c, 'target')!, { beta: c.beta, reduction: c.reduction }),
  } satisfies Record<string, (xs: Tensor[], c: Config) => Tensor>),
);
