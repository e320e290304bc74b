/**
 * functionalCall(model, params, x, context): the model's forward with the tensors of `params`
 * standing in for its parameters, by name — torch.func.functional_call. With it a model is a
 * pure function of its parameters, which is what the transforms need:
 *
 *   const loss = (p, x, y) => crossEntropy(functionalCall(model, p, x.unsqueeze(0)), [y]);
 *   vmap(grad(loss), { inAxes: [null, 0, 0] })(params, xs, ys)   // per-sample gradients
 *
 * `params` maps every parameter's qualified name (namedParameters(), PyTorch's state_dict
 * names) to a tensor of its shape and dtype; a missing or unknown name is refused. The model's
 * own tensors are never modified. Buffers are the model's own (BatchNorm running statistics).
 */
import { ValueError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { tensorArgument } from '../autograd/operands.js';
import { moduleArgument, type ForwardContext, type Module } from './module.js';

/** The model's parameters by name, as functionalCall takes them (references, not copies). */
export function parametersByName(model: Module): Record<string, Tensor> {
  moduleArgument('parametersByName', model);
  return Object.fromEntries(model.namedParameters());
}

/**
 * `model.forward(x, context)` with `params[name]` standing in for each parameter, by qualified
 * name (torch.func.functional_call): gradients flow to the tensors of `params`, and the model's
 * own tensors are neither used nor modified. Every parameter must be given, with its shape and
 * dtype; a missing or unknown name throws a ValueError, a wrong shape a ShapeError, a wrong
 * dtype a DTypeError. Buffers are the model's own.
 * @example
 * const params = parametersByName(model);
 * const g = grad((p: Record<string, Tensor>) => crossEntropy(functionalCall(model, p, x), y))(params);
 */
export function functionalCall(model: Module, params: Readonly<Record<string, Tensor>>, x: Tensor, context?: ForwardContext): Tensor {
  moduleArgument('functionalCall', model);
  tensorArgument('functionalCall', x, 'the input to be a Tensor');
  if (typeof params !== 'object' || params === null || Array.isArray(params)) {
    throw new ValueError(`functionalCall: expected the parameters as an object keyed by name (see parametersByName); got ${Array.isArray(params) ? 'an array' : typeof params}`);
  }
  const names = model.namedParameters().map(([name]) => name);
  const known = new Set(names);
  const unknown = Object.keys(params).filter((k) => !known.has(k));
  if (unknown.length) throw new ValueError(`functionalCall: ${model.describe()} has no parameter named ${unknown.map((k) => `'${k}'`).join(', ')}`);
  const missing = names.filter((n) => !Object.hasOwn(params, n));
  if (missing.length) throw new ValueError(`functionalCall: missing parameter ${missing.map((k) => `'${k}'`).join(', ')} of ${model.describe()}`);
  return model.withParameters(
    names.map((n) => params[n]!),
    () => model.forward(x, context),
  );
}
