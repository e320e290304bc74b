/**
 * Grad mode: whether ops record graph nodes. Backward turns it off while it runs a rule
 * (unless `createGraph` asks for a differentiable backward), and `noGrad` turns it off for
 * evaluation and parameter updates.
 */
import { functionArgument } from '../tensor/arguments.js';

let enabled = true;

/**
 * Whether ops currently record graph nodes (torch.is_grad_enabled): true by default, false
 * inside `noGrad` and while a backward rule runs without `createGraph`.
 */
export function isGradEnabled(): boolean {
  return enabled;
}

/** Run `fn` with grad mode set to `value`, restoring the previous mode even if `fn` throws. */
export function withGradMode<T>(value: boolean, fn: () => T): T {
  const previous = enabled;
  enabled = value;
  try {
    return fn();
  } finally {
    enabled = previous;
  }
}

/**
 * Run `fn` without recording a graph (PyTorch's `torch.no_grad()`).
 * @example const acc = noGrad(() => model.forward(x).argmax(1));
 */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, functionArgument('noGrad', 'fn', fn));
}

/** Run `fn` with recording on, e.g. inside a `noGrad` block. */
export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, functionArgument('enableGrad', 'fn', fn));
}
