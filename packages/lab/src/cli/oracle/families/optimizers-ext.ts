/**
 * Oracle family 10 (`optimizers_ext.json`): short training runs of the tiny MLP of family 6
 * with torch.optim.Adam, AdamW, RMSprop, Adagrad and SGD, with gradient clipping by norm (2 or
 * ∞) or by value (packages/lab/oracle/README.md, "Family 10"). The minibatch gradient comes from
 * gradscope's SgdEstimator, the clipping from ClippedUpdate and the step from the update rule
 * under test, driven through the case's epochs by a small private loop. Compared: the
 * trajectory, the minibatch losses before each step, the final full-data loss, the total norm
 * before clipping at each step (norm clipping), and the final optimizer state under PyTorch's
 * names, flattened in parameter order.
 */
import {
  Adagrad,
  Adam,
  AdamW,
  ClippedUpdate,
  crossEntropy,
  type FloatDType,
  noGrad,
  PerParameterUpdate,
  RMSprop,
  SgdEstimator,
  SgdUpdate,
  type StepContext,
  tensor,
  type UpdateRule,
  ValueError,
} from 'gradscope';
import { type Family, type OracleCase, type Results } from '../format.js';
import { modelOf, unknownLayer } from './model-spec.js';
import { dataOf } from './optimizers.js';

const OPTIMIZERS = new Set(['adam', 'adamw', 'rmsprop', 'adagrad', 'sgd']);


/** The update rule of a case, from its PyTorch hyper-parameter names. */
function ruleOf(c: OracleCase): UpdateRule {
  const h = c.config.hyper;
  const betas = h.betas as [number, number] | undefined;
  switch (c.config.optimizer) {
    case 'adam':
      return new Adam({ betas, eps: h.eps, weightDecay: h.weight_decay, amsgrad: h.amsgrad });
    case 'adamw':
      return new AdamW({ betas, eps: h.eps, weightDecay: h.weight_decay, amsgrad: h.amsgrad });
    case 'rmsprop':
      return new RMSprop({ alpha: h.alpha, eps: h.eps, weightDecay: h.weight_decay, momentum: h.momentum, centered: h.centered });
    case 'adagrad':
      return new Adagrad({ lrDecay: h.lr_decay, weightDecay: h.weight_decay, initialAccumulatorValue: h.initial_accumulator_value, eps: h.eps });
    case 'sgd':
      return new SgdUpdate({ momentum: h.momentum, dampening: h.dampening, weightDecay: h.weight_decay, nesterov: h.nesterov });
    default:
      throw new ValueError(`oracle optimizers_ext: unknown optimizer '${c.config.optimizer}'`);
  }
}

/** The clipping wrapper of a case's `config.clip`, or the rule itself when it is null. */
function clipped(rule: UpdateRule, clip: any): UpdateRule {
  if (clip === null || clip === undefined) return rule;
  if (clip.type === 'norm') return new ClippedUpdate(rule, { maxNorm: clip.max_norm, normType: clip.norm_type === 'inf' ? Infinity : clip.norm_type });
  if (clip.type === 'value') return new ClippedUpdate(rule, { clipValue: clip.clip_value });
  throw new ValueError(`oracle optimizers_ext: unknown clip type '${clip.type}'`);
}

const vector = (values: ArrayLike<number>) => tensor(Float64Array.from(values), { shape: [values.length], dtype: 'float64' });

/** The final state of `rule` as `state/<key>` results, flattened in parameter order. */
function stateResults(rule: UpdateRule, keys: readonly string[]): Results {
  const out: Results = {};
  if (rule instanceof PerParameterUpdate) {
    const states = rule.parameterStates() ?? [];
    for (const key of keys) {
      if (key === 'step') out['state/step'] = states[0]?.step ?? 0;
      else out[`state/${key}`] = vector(states.flatMap((s) => Array.from(s.tensors[key]!.toTypedArray())));
    }
  } else if (rule instanceof SgdUpdate) {
    // torch.optim.SGD keeps only momentum_buffer (and no step count).
    const { buffers } = rule.saveState();
    for (const key of keys) {
      if (key !== 'momentum_buffer') throw new ValueError(`oracle optimizers_ext: SGD keeps no state '${key}'`);
      out['state/momentum_buffer'] = vector((buffers ?? []).flatMap((b) => b!.data));
    }
  }
  return out;
}

export const optimizersExtFamily: Family = {
  missing: (c: OracleCase) =>
    c.config.loss !== 'cross_entropy_mean' ? `loss ${c.config.loss}` : !OPTIMIZERS.has(c.config.optimizer) ? `optimizer ${c.config.optimizer}` : unknownLayer(c.config.layers),

  run(c: OracleCase, dtype: FloatDType): Results {
    const { model } = modelOf(c, dtype);
    model.train();
    const { data, makeBatch } = dataOf(c, dtype);
    const lr: number = c.config.hyper.lr;
    const epochs: number[][][] = c.config.epochs;
    const estimator = new SgdEstimator();
    const inner = ruleOf(c);
    const update = clipped(inner, c.config.clip);
    const params = model.parameters();
    const P = model.numParameters();

    const trajectory = new Float64Array(c.config.num_steps * P);
    const batchLoss: number[] = [];
    const gradNorm: number[] = [];
    let step = 0;
    epochs.forEach((batches, epoch) => {
      batches.forEach((indices, stepInEpoch) => {
        const context: StepContext = { model, data, epoch, step, stepInEpoch, stepsInEpoch: batches.length, makeBatch, indices };
        const direction = estimator.direction(context, makeBatch(indices));
        batchLoss.push(estimator.lastLoss);
        update.step(params, direction, lr);
        if (update instanceof ClippedUpdate && update.lastNorm !== null) gradNorm.push(update.lastNorm);
        trajectory.set(model.flattenParameters().toTypedArray(), step * P);
        step++;
      });
    });
    if (step !== c.config.num_steps) throw new ValueError(`oracle optimizers_ext: the epochs hold ${step} minibatches; config.num_steps is ${c.config.num_steps}`);
    const all = makeBatch(Array.from({ length: data.length }, (_, i) => i));
    const results: Results = {
      trajectory: tensor(trajectory, { shape: [step, P], dtype: 'float64' }),
      batch_loss: vector(batchLoss),
      final_full_loss: noGrad(() => crossEntropy(model.forward(all.x, { sampleIds: all.sampleIds, seed: all.seed }), all.targets).item()),
      ...stateResults(inner, c.config.state_keys),
    };
    if (c.config.clip?.type === 'norm') results.grad_norm = vector(gradNorm);
    return results;
  },
};
