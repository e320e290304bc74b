/**
 * index.html of a results directory: one section per preset with the paper, the claim in one
 * sentence, the pre-declared rule, a verdict badge, the plots (SVG inlined, so the page needs
 * no network and no other file), the numbers the rule used, the mechanics checks and every run,
 * diverged ones included. Everything shown comes from results.json, so rebuilding the page from
 * the same files gives the same bytes. A page with smoke-size results says at the top (and in
 * each such section) that a smoke verdict checks the mechanics, not the paper's claim.
 */
import type { Verdict } from '../../experiments/preset.js';
import type { ResultsFile } from '../../experiments/runner.js';

export interface ReportSection {
  results: ResultsFile;
  /** plot id → inline SVG text */
  svgs: Map<string, string>;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function fmt(v: number | string | boolean): string {
  if (typeof v !== 'number') return escapeHtml(String(v));
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(4) : v.toPrecision(6).replace(/\.?0+$/, '');
}

const BADGE: Record<Verdict, string> = { REPRODUCED: 'ok', 'NOT REPRODUCED': 'bad', INCONCLUSIVE: 'meh' };

function badge(v: Verdict): string {
  return `<span class="badge ${BADGE[v]}">${escapeHtml(v)}</span>`;
}

function anchor(name: string): string {
  return `preset-${name.replace(/[^A-Za-z0-9_-]/g, '-')}`;
}

/** What a smoke-size verdict means; said in the page's banner and in each smoke section. */
export const SMOKE_NOTE =
  "Smoke verdicts check mechanics, not the science: tiny data and few steps show that the preset runs end to end and its rule is computed, not whether the paper's claim holds. Run --size full to test the claim.";

/** The banner at the top of the page: present when any preset on it ran at smoke size. */
function smokeBanner(sections: readonly ReportSection[]): string {
  const smoke = sections.filter((s) => s.results.size === 'smoke').map((s) => s.results.preset);
  if (smoke.length === 0) return '';
  const which = smoke.length === sections.length ? (sections.length === 1 ? 'This preset ran' : 'Every preset here ran') : `${smoke.map(escapeHtml).join(', ')} ran`;
  return `<p class="banner smoke" role="note"><strong>${which} at smoke size.</strong> ${escapeHtml(SMOKE_NOTE)}</p>\n`;
}

function section({ results: r, svgs }: ReportSection): string {
  const res = r.result;
  const dir = encodeURIComponent(r.preset);
  const plots = res.plots
    .map(
      (p) => `<figure>
${svgs.get(p.id) ?? ''}
<figcaption>${escapeHtml(p.title)} — data: <a href="${dir}/${encodeURIComponent(p.id)}.csv">${escapeHtml(p.id)}.csv</a>, image: <a href="${dir}/${encodeURIComponent(p.id)}.svg">${escapeHtml(p.id)}.svg</a></figcaption>
</figure>`,
    )
    .join('\n');
  const numbers = Object.entries(res.numbers)
    .map(([k, v]) => `<tr><th scope="row">${escapeHtml(k)}</th><td class="num">${fmt(v)}</td></tr>`)
    .join('\n');
  const checks = Object.entries(res.checks)
    .map(([k, v]) => `<tr><th scope="row">${escapeHtml(k)}</th><td class="${v ? 'pass' : 'fail'}">${v ? 'pass' : 'FAIL'}</td></tr>`)
    .join('\n');
  const configKeys = [...new Set(res.runs.flatMap((x) => Object.keys(x.config)))];
  const metricKeys = [...new Set(res.runs.flatMap((x) => Object.keys(x.metrics)))];
  const runHead = ['run', ...configKeys, 'diverged', ...metricKeys].map((h) => `<th scope="col">${escapeHtml(h)}</th>`).join('');
  const runRows = res.runs
    .map(
      (x) =>
        `<tr${x.diverged ? ' class="diverged"' : ''}><td>${escapeHtml(x.id)}</td>${configKeys.map((k) => `<td>${k in x.config ? fmt(x.config[k]!) : ''}</td>`).join('')}<td>${x.diverged ? 'yes' : 'no'}</td>${metricKeys.map((k) => `<td class="num">${k in x.metrics ? fmt(x.metrics[k]!) : ''}</td>`).join('')}</tr>`,
    )
    .join('\n');
  return `<section id="${anchor(r.preset)}">
<h2>${escapeHtml(r.preset)} ${badge(res.verdict)}</h2>
${r.size === 'smoke' ? `<p class="smoke-note"><strong>Smoke size.</strong> ${escapeHtml(SMOKE_NOTE)}</p>\n` : ''}<p class="paper">${escapeHtml(r.paper)}</p>
<dl>
<dt>Claim</dt><dd class="claim">${escapeHtml(r.claim)}</dd>
<dt>Rule (declared before running)</dt><dd class="rule">${escapeHtml(r.rule)}</dd>
<dt>Verdict</dt><dd>${badge(res.verdict)} ${escapeHtml(res.verdictDetail)}</dd>
<dt>Run</dt><dd>size ${escapeHtml(r.size)}, seeds ${r.seeds.join(', ')}; gradscope ${escapeHtml(r.versions.gradscope)}${r.versions.backend ? ` (${escapeHtml(r.versions.backend)})` : ''}, Node ${escapeHtml(r.versions.node)}; finished ${escapeHtml(r.date)} after ${fmt(r.durationSeconds)} s; <a href="${dir}/results.json">results.json</a>, <a href="${dir}/runs.csv">runs.csv</a></dd>
</dl>
${plots}
<h3>Numbers</h3>
<table class="kv">
${numbers}
</table>
${checks ? `<h3>Checks</h3>\n<table class="kv">\n${checks}\n</table>` : ''}
<h3>Runs (${res.runs.length}, ${res.runs.filter((x) => x.diverged).length} diverged)</h3>
<div class="scroll"><table class="runs">
<thead><tr>${runHead}</tr></thead>
<tbody>
${runRows}
</tbody>
</table></div>
</section>`;
}

const STYLE = `body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{margin-bottom:.2em}section{border-top:2px solid #ddd;margin-top:2em;padding-top:1em}
.badge{display:inline-block;padding:.15em .6em;border-radius:.8em;font-size:.8em;font-weight:600;vertical-align:middle;color:#fff}
.badge.ok{background:#1a7f37}.badge.bad{background:#cf222e}.badge.meh{background:#9a6700}
dt{font-weight:600;margin-top:.5em}dd{margin-left:1.5em}.paper{color:#555;font-style:italic}
figure{margin:1em 0}figure svg{max-width:100%;height:auto}figcaption{font-size:.9em;color:#555}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}.pass{color:#1a7f37}.fail{color:#cf222e;font-weight:600}
tr.diverged td{background:#fff0f0}.scroll{overflow-x:auto}
table.summary td,table.summary th{vertical-align:top}
.banner.smoke{background:#fff8c5;border:1px solid #d4a72c;border-radius:.4em;padding:.6em 1em}.smoke-note{color:#7d4e00;font-size:.9em}`;

export function reportHtml(sections: readonly ReportSection[]): string {
  const summary = sections
    .map((s) => `<tr><td><a href="#${anchor(s.results.preset)}">${escapeHtml(s.results.preset)}</a></td><td>${escapeHtml(s.results.size)}</td><td>${badge(s.results.result.verdict)}</td><td>${escapeHtml(s.results.claim)}</td></tr>`)
    .join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gradscope experiment report</title>
<style>
${STYLE}
</style>
</head>
<body>
<h1>gradscope experiment report</h1>
${smokeBanner(sections)}<p>${sections.length} preset${sections.length === 1 ? '' : 's'}. Each verdict is computed by the preset's own rule, stated before it ran.</p>
<table class="summary">
<thead><tr><th>preset</th><th>size</th><th>verdict</th><th>claim</th></tr></thead>
<tbody>
${summary}
</tbody>
</table>
${sections.map(section).join('\n')}
</body>
</html>
`;
}
