/**
 * From a statistical test to a claim part's verdict, and from the parts to the preset's verdict.
 *
 * A preset declares each part of its paper's claim before it runs: what the effect is, the test,
 * the direction the paper claims (or, for "no difference", an equivalence margin) and α. Then:
 *
 * - a **directional** part ("SVRG's variance is above SGD's", "ρ(η/S, λ_max) < 0") is REPRODUCED
 *   when the test rejects its null at α with the effect on the claimed side, NOT REPRODUCED when it
 *   rejects with the effect on the other side, and INCONCLUSIVE otherwise — so "no significant
 *   difference" never counts as support;
 * - an **equivalence** part ("equal accuracy at equal η/S") is REPRODUCED only when TOST shows the
 *   effect within ±margin (its (1 − 2α) interval inside the margin), NOT REPRODUCED when that
 *   interval lies wholly outside the margin, INCONCLUSIVE otherwise;
 * - the **preset** is NOT REPRODUCED if any part is, REPRODUCED if every part is, and INCONCLUSIVE
 *   otherwise.
 */
import type { ClaimPart, Verdict } from './preset.js';
import type { TestResult } from './stats.js';

/** What a preset declares for each part before it runs. */
export interface PartSpec {
  id: string;
  claim: string;
  effectLabel: string;
}

/** The side of the null value the paper claims the effect is on. */
export type Direction = 'greater' | 'less';

const fmt = (x: number) => (Number.isFinite(x) ? Number(x.toPrecision(3)).toString() : String(x));
const fmtP = (p: number) => (p !== 0 && p < 1e-4 ? p.toExponential(1) : Number(p.toPrecision(2)).toString());

/** A part claiming the effect lies on one side of the test's null value. */
export function directionalPart(spec: PartSpec, result: TestResult, direction: Direction, alpha: number): ClaimPart {
  const { effect, nullValue, p } = result;
  const claimedSide = direction === 'greater' ? effect > nullValue : effect < nullValue;
  const otherSide = direction === 'greater' ? effect < nullValue : effect > nullValue;
  const significant = p < alpha;
  let verdict: Verdict = 'INCONCLUSIVE';
  if (significant && claimedSide) verdict = 'REPRODUCED';
  else if (significant && otherSide) verdict = 'NOT REPRODUCED';
  const sign = direction === 'greater' ? '>' : '<';
  const opposite = sign === '>' ? '<' : '>';
  let detail: string;
  if (verdict === 'INCONCLUSIVE') {
    const tell = `the test cannot tell the effect (${fmt(effect)}) from ${fmt(nullValue)}`;
    detail = `p = ${fmtP(p)} ≥ α = ${alpha}: ${tell}.`;
  } else {
    const side =
      verdict === 'REPRODUCED' ? ', the side the paper claims.' : ', the side opposite to the paper’s claim.';
    const relation = `${fmt(effect)} ${verdict === 'REPRODUCED' ? sign : opposite} ${fmt(nullValue)}`;
    detail = `p = ${fmtP(p)} < α = ${alpha} with the effect ${relation}${side}`;
  }
  const test = `${result.test}, H₀: effect = ${fmt(nullValue)}, claim: effect ${sign} ${fmt(nullValue)}`;
  return { ...spec, test, effect, interval: result.interval, p, alpha, n: result.n, verdict, detail };
}

/** A part claiming the effect is within ±margin of zero, judged by TOST (`stats.tost`). */
export function equivalencePart(spec: PartSpec, result: TestResult, margin: number, alpha: number): ClaimPart {
  const [lo, hi] = result.interval;
  let verdict: Verdict = 'INCONCLUSIVE';
  if (result.p < alpha) verdict = 'REPRODUCED';
  else if (lo >= margin || hi <= -margin) verdict = 'NOT REPRODUCED';
  const interval = `[${fmt(lo)}, ${fmt(hi)}]`;
  const level = `${(1 - 2 * alpha) * 100} % interval ${interval}`;
  const p = `TOST p = ${fmtP(result.p)}`;
  const details: Record<Verdict, string> = {
    REPRODUCED: `${p} < α = ${alpha}: the ${level} lies inside ±${fmt(margin)}.`,
    'NOT REPRODUCED': `The ${level} lies wholly outside ±${fmt(margin)}: the effect is larger than the margin.`,
    INCONCLUSIVE:
      `${p} ≥ α = ${alpha}: the interval ${interval} reaches past ±${fmt(margin)}, so equivalence is not shown.`,
  };
  const { effect, n } = result;
  const detail = details[verdict];
  return { ...spec, test: result.test, effect, interval: result.interval, p: result.p, alpha, n, verdict, detail };
}

/** The preset's verdict from its parts' verdicts, and a sentence saying which parts decided it. */
export function verdictFromParts(parts: readonly ClaimPart[]): { verdict: Verdict; detail: string } {
  if (parts.length === 0) throw new Error('verdictFromParts: a preset must judge at least one claim part');
  const named = (v: Verdict) => parts.filter((p) => p.verdict === v).map((p) => p.id);
  const against = named('NOT REPRODUCED');
  const open = named('INCONCLUSIVE');
  if (against.length > 0) {
    const verb = against.length === 1 ? 'goes' : 'go';
    const others = parts.length - against.length;
    const listed = `(${others} other part(s) as listed)`;
    const detail = `Not reproduced: ${against.join(', ')} ${verb} against the paper ${listed}.`;
    return { verdict: 'NOT REPRODUCED', detail };
  }
  if (open.length > 0) {
    const verb = open.length === 1 ? 'is' : 'are';
    const reproduced = `${parts.length - open.length} of ${parts.length} part(s) reproduced`;
    const detail = `Inconclusive: ${open.join(', ')} ${verb} undecided at α; ${reproduced}.`;
    return { verdict: 'INCONCLUSIVE', detail };
  }
  return { verdict: 'REPRODUCED', detail: `Every part reproduced (${parts.length} of ${parts.length}).` };
}
