/**
 * index.html of a results directory: one section per preset with the paper, the claim in one
 * sentence, the pre-declared rule, the table of the claim's parts (each part's effect, interval,
 * p-value, α, n, verdict and test), the preset's verdict from the parts, what ran and what the
 * scale-down changes from the paper, the plots (SVG inlined, so the page needs no network and no
 * other file), the numbers, the mechanics checks, every run, diverged ones included, and where the
 * tasks ran (counts per way and per host; the full list is placement.csv).
 *
 * Everything shown comes from results.json, as the preset judged it (nothing is recomputed here),
 * so rebuilding the page from the same files gives the same bytes. A page with smoke-size results
 * says at the top (and in each such section) that a smoke verdict checks the mechanics, not the
 * paper's claim; a run limited by --max-steps says, in the same two places, that its verdicts are
 * not the preset's.
 */
import type { TaskPlacement } from '../../experiments/placement.js';
import type { ClaimPart, Verdict } from '../../experiments/preset.js';
import type { ResultsFile } from '../../experiments/runner.js';

export interface ReportSection {
  results: ResultsFile;
  /** plot id → inline SVG text */
  svgs: Map<string, string>;
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text made safe for HTML content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

/** A number of the numbers and runs tables: integers whole, others to six significant digits. */
function fmt(v: number | string | boolean): string {
  if (typeof v !== 'number') return escapeHtml(String(v));
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(4) : v.toPrecision(6).replace(/\.?0+$/, '');
}

/** A number of the claim table: three significant digits (the interval says how many matter). */
function short(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(2) : String(Number(v.toPrecision(3)));
}

/** A p-value as a reader scans it: two significant digits, scientific notation below 10⁻⁴. */
export function formatP(p: number): string {
  if (!Number.isFinite(p)) return String(p);
  return p !== 0 && p < 1e-4 ? p.toExponential(1) : String(Number(p.toPrecision(2)));
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
  'Smoke verdicts check mechanics, not the science: tiny data and few steps show that the preset runs end to ' +
  "end and its rule is computed, not whether the paper's claim holds. Run --size full to test the claim.";

/** What a --max-steps run means; said in the page's banner and in each such section. */
export const MAX_STEPS_NOTE =
  'Every training run stopped after --max-steps steps: this run tried the configuration, so its verdicts ' +
  "are not the preset's.";

/** Which presets of the page `matches` picks, as the banner names them. */
function which(sections: readonly ReportSection[], matches: (r: ResultsFile) => boolean): string | undefined {
  const names = sections.filter((s) => matches(s.results)).map((s) => s.results.preset);
  if (names.length === 0) return undefined;
  if (names.length === sections.length) return sections.length === 1 ? 'This preset' : 'Every preset here';
  return names.map(escapeHtml).join(', ');
}

/** The banners at the top of the page: smoke-size runs, and runs limited by --max-steps. */
function banners(sections: readonly ReportSection[]): string {
  const smoke = which(sections, (r) => r.size === 'smoke');
  const limited = which(sections, (r) => r.maxSteps !== undefined);
  return (
    (smoke ? `<p class="banner smoke" role="note"><strong>${smoke} ran at smoke size.</strong> ` +
      `${escapeHtml(SMOKE_NOTE)}</p>\n` : '') +
    (limited ? `<p class="banner limited" role="note"><strong>${limited} ran with --max-steps.</strong> ` +
      `${escapeHtml(MAX_STEPS_NOTE)}</p>\n` : '')
  );
}

/** The level of a part's interval: (1 − 2α) for an equivalence (TOST) part, (1 − α) otherwise (claims.ts). */
function intervalLevel(part: ClaimPart): string {
  const equivalence = part.test.startsWith('TOST');
  return `${Number(((1 - (equivalence ? 2 : 1) * part.alpha) * 100).toPrecision(3))} %`;
}

/**
 * The claim-part table: one row per part, in the preset's order — the part and its claim, the
 * effect with its unit, its interval and level, p, α, n, the verdict, the test as declared and
 * the sentence saying how the verdict follows from the numbers.
 */
export function claimTable(parts: readonly ClaimPart[]): string {
  const head = ['part and claim', 'effect', 'interval', 'p', 'α', 'n', 'verdict', 'test, and how the verdict follows']
    .map((h) => `<th scope="col">${h}</th>`)
    .join('');
  const rows = parts.map(
    (c) => `<tr class="part ${BADGE[c.verdict]}" id="part-${escapeHtml(c.id)}">
<td><strong>${escapeHtml(c.id)}</strong><br>${escapeHtml(c.claim)}</td>
<td class="num">${short(c.effect)}<br><span class="unit">${escapeHtml(c.effectLabel)}</span></td>
<td class="num">[${short(c.interval[0])}, ${short(c.interval[1])}]<br><span class="unit">${intervalLevel(c)}</span></td>
<td class="num">${formatP(c.p)}</td>
<td class="num">${fmt(c.alpha)}</td>
<td class="num">${fmt(c.n)}</td>
<td>${badge(c.verdict)}</td>
<td>${escapeHtml(c.test)}<br><span class="detail">${escapeHtml(c.detail)}</span></td>
</tr>`,
  );
  return `<table class="claims">\n<thead><tr>${head}</tr></thead>\n<tbody>\n${rows.join('\n')}\n</tbody>\n</table>`;
}

/** How many of a preset's parts reached each verdict, for the summary table. */
function partsSummary(parts: readonly ClaimPart[]): string {
  const words: [Verdict, string][] = [
    ['REPRODUCED', 'reproduced'],
    ['NOT REPRODUCED', 'not reproduced'],
    ['INCONCLUSIVE', 'inconclusive'],
  ];
  return words
    .map(([v, word]) => [parts.filter((p) => p.verdict === v).length, word] as const)
    .filter(([count]) => count > 0)
    .map(([count, word]) => `${count} ${word}`)
    .join(', ');
}

function keyValueRows(entries: [string, string][]): string {
  return entries.map(([k, cell]) => `<tr><th scope="row">${escapeHtml(k)}</th>${cell}</tr>`).join('\n');
}

function runsTable(res: ResultsFile['result']): string {
  const configKeys = [...new Set(res.runs.flatMap((x) => Object.keys(x.config)))];
  const metricKeys = [...new Set(res.runs.flatMap((x) => Object.keys(x.metrics)))];
  const head = ['run', ...configKeys, 'diverged', ...metricKeys].map((h) => `<th scope="col">${escapeHtml(h)}</th>`);
  const rows = res.runs.map((x) => {
    const config = configKeys.map((k) => `<td>${k in x.config ? fmt(x.config[k]!) : ''}</td>`).join('');
    const metrics = metricKeys.map((k) => `<td class="num">${k in x.metrics ? fmt(x.metrics[k]!) : ''}</td>`).join('');
    const tr = x.diverged ? '<tr class="diverged">' : '<tr>';
    return `${tr}<td>${escapeHtml(x.id)}</td>${config}<td>${x.diverged ? 'yes' : 'no'}</td>${metrics}</tr>`;
  });
  const diverged = res.runs.filter((x) => x.diverged).length;
  return `<h3>Runs (${res.runs.length}, ${diverged} diverged)</h3>
<div class="scroll"><table class="runs">
<thead><tr>${head.join('')}</tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table></div>`;
}

/** The "Run" line: size, seeds, --data and --max-steps where given, versions, date, files. */
function runLine(r: ResultsFile, dir: string): string {
  const inputs =
    (r.dataDir === undefined ? '' : `, data ${escapeHtml(r.dataDir)}`) +
    (r.maxSteps === undefined ? '' : `, at most ${r.maxSteps} steps per training run (--max-steps)`);
  const backend = r.versions.backend ? ` (${escapeHtml(r.versions.backend)})` : '';
  const tables = ['results.json', 'runs.csv', 'claims.csv', ...(r.placement ? ['placement.csv'] : [])];
  const files = tables.map((f) => `<a href="${dir}/${f}">${f}</a>`).join(', ');
  return (
    `size ${escapeHtml(r.size)}, seeds ${r.seeds.join(', ')}${inputs}; gradscope ${escapeHtml(r.versions.gradscope)}` +
    `${backend}, Node ${escapeHtml(r.versions.node)}; ` +
    `finished ${escapeHtml(r.date)} after ${fmt(r.durationSeconds)} s; ` +
    files
  );
}

/** Where a way of running comes in the summary: this machine, the shards by k then N, merge, the queue. */
function viaOrder(via: string): number[] {
  const shard = /^shard ([0-9]+)\/([0-9]+)$/.exec(via);
  if (shard) return [1, Number(shard[2]), Number(shard[1])];
  return [via === 'local' ? 0 : via === 'merge' ? 2 : 3];
}

function byOrder(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function plural(n: number, word: string, words = `${word}s`): string {
  return `${n} ${n === 1 ? word : words}`;
}

/**
 * "Where the tasks ran" (issue 20): how many tasks ran each way (on one machine, in each shard,
 * in `gradscope merge`, on the queue) and on each host (with how many processes), and the tasks
 * retried on the queue, run at merge and resumed from an interrupted run. The full list, one
 * row per task, is placement.csv; a results.json written before the record existed says so.
 */
export function placementSummary(placement: readonly TaskPlacement[] | undefined, dir: string): string {
  if (placement === undefined) {
    return '<h3>Where the tasks ran</h3>\n<p class="placement">Not recorded in this results.json ' +
      '(written before gradscope recorded where each task ran).</p>';
  }
  const vias = new Map<string, number>();
  const hosts = new Map<string, Set<number>>();
  const perHost = new Map<string, number>();
  for (const p of placement) {
    vias.set(p.via, (vias.get(p.via) ?? 0) + 1);
    perHost.set(p.host, (perHost.get(p.host) ?? 0) + 1);
    hosts.set(p.host, (hosts.get(p.host) ?? new Set<number>()).add(p.pid));
  }
  const how = [...vias].sort(([a], [b]) => byOrder(viaOrder(a), viaOrder(b)));
  const where = [...perHost].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const retried = placement.filter((p) => (p.attempts ?? 1) > 1);
  const most = Math.max(0, ...retried.map((p) => p.attempts!));
  const count = (n: number, extra = '') => (n === 0 ? 'none' : `${plural(n, 'task')}${extra}`);
  const rows = keyValueRows([
    ['how', `<td>${how.map(([via, n]) => `${escapeHtml(via)}: ${n}`).join('; ')}</td>`],
    ['host', `<td>${where
      .map(([host, n]) => `${escapeHtml(host)}: ${n} (${plural(hosts.get(host)!.size, 'process', 'processes')})`)
      .join('; ')}</td>`],
    ['retried (queue)', `<td>${count(retried.length, retried.length ? `, up to ${most} attempts` : '')}</td>`],
    ['run at merge', `<td>${count(vias.get('merge') ?? 0)}</td>`],
    ['resumed from an interrupted run', `<td>${count(placement.filter((p) => p.resumed).length)}</td>`],
  ]);
  const list = `one row per task: <a href="${dir}/placement.csv">placement.csv</a>`;
  return `<h3>Where the tasks ran (${plural(placement.length, 'task')}; ${list})</h3>
<table class="kv placement">
${rows}
</table>`;
}

/** What the scale-down changes from the paper: said wherever the preset says it, and at paper size. */
function scaleDownRow(r: ResultsFile): string {
  const paper = r.size === 'paper' ? 'Nothing: this is the paper-size configuration.' : '';
  const text = r.result.scaleDown !== '' ? r.result.scaleDown : paper;
  if (text === '') return '';
  return `<dt>What the scale-down changes from the paper</dt><dd class="scale-down">${escapeHtml(text)}</dd>\n`;
}

function section({ results: r, svgs }: ReportSection): string {
  const res = r.result;
  const dir = encodeURIComponent(r.preset);
  const plots = res.plots.map((p) => {
    const file = encodeURIComponent(p.id);
    const link = (ext: string, what: string) =>
      `${what}: <a href="${dir}/${file}.${ext}">${escapeHtml(p.id)}.${ext}</a>`;
    const links = `${link('csv', 'data')}, ${link('svg', 'image')}`;
    return `<figure>\n${svgs.get(p.id) ?? ''}\n<figcaption>${escapeHtml(p.title)} — ${links}</figcaption>\n</figure>`;
  });
  const numbers = keyValueRows(Object.entries(res.numbers).map(([k, v]) => [k, `<td class="num">${fmt(v)}</td>`]));
  const checks = keyValueRows(
    Object.entries(res.checks).map(([k, v]) => [k, `<td class="${v ? 'pass' : 'fail'}">${v ? 'pass' : 'FAIL'}</td>`]),
  );
  const notes =
    (r.size === 'smoke' ? `<p class="smoke-note"><strong>Smoke size.</strong> ${escapeHtml(SMOKE_NOTE)}</p>\n` : '') +
    (r.maxSteps === undefined
      ? ''
      : `<p class="limited-note"><strong>--max-steps ${r.maxSteps}.</strong> ${escapeHtml(MAX_STEPS_NOTE)}</p>\n`);
  return `<section id="${anchor(r.preset)}">
<h2>${escapeHtml(r.preset)} ${badge(res.verdict)}</h2>
${notes}<p class="paper">${escapeHtml(r.paper)}</p>
<dl>
<dt>Claim</dt><dd class="claim">${escapeHtml(r.claim)}</dd>
<dt>Rule (declared before running)</dt><dd class="rule">${escapeHtml(r.rule)}</dd>
</dl>
<h3>Claim parts (each judged at α = ${fmt(res.alpha)})</h3>
${claimTable(res.claims)}
<dl>
<dt>Verdict from the parts</dt><dd class="verdict">${badge(res.verdict)} ${escapeHtml(res.verdictDetail)}</dd>
<dt>What ran</dt><dd class="budget">${escapeHtml(res.budget)}</dd>
${scaleDownRow(r)}<dt>Run</dt><dd>${runLine(r, dir)}</dd>
</dl>
${plots.join('\n')}
<h3>Numbers</h3>
<table class="kv">
${numbers}
</table>
${checks ? `<h3>Checks</h3>\n<table class="kv">\n${checks}\n</table>` : ''}
${runsTable(res)}
${placementSummary(r.placement, dir)}
</section>`;
}

const STYLE = `body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{margin-bottom:.2em}section{border-top:2px solid #ddd;margin-top:2em;padding-top:1em}
.badge{display:inline-block;padding:.15em .6em;border-radius:.8em;font-size:.8em;font-weight:600;vertical-align:middle;
color:#fff}
.badge.ok{background:#1a7f37}.badge.bad{background:#cf222e}.badge.meh{background:#9a6700}
dt{font-weight:600;margin-top:.5em}dd{margin-left:1.5em}.paper{color:#555;font-style:italic}
figure{margin:1em 0}figure svg{max-width:100%;height:auto}figcaption{font-size:.9em;color:#555}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}.pass{color:#1a7f37}.fail{color:#cf222e;font-weight:600}
tr.diverged td{background:#fff0f0}.scroll{overflow-x:auto}
table.summary td,table.summary th,table.claims td{vertical-align:top}
table.claims tr.part.ok td:first-child{border-left:4px solid #1a7f37}
table.claims tr.part.bad td:first-child{border-left:4px solid #cf222e}
table.claims tr.part.meh td:first-child{border-left:4px solid #9a6700}.unit,.detail{color:#555;font-size:.85em}
.banner{border-radius:.4em;padding:.6em 1em}.banner.smoke{background:#fff8c5;border:1px solid #d4a72c}
.banner.limited{background:#ffebe9;border:1px solid #cf222e}
.smoke-note{color:#7d4e00;font-size:.9em}.limited-note{color:#82071e;font-size:.9em}`;

/** The whole page over the presets' results, in the order given. */
export function reportHtml(sections: readonly ReportSection[]): string {
  const summary = sections.map(({ results: r }) => {
    const link = `<a href="#${anchor(r.preset)}">${escapeHtml(r.preset)}</a>`;
    const size = escapeHtml(r.size) + (r.maxSteps === undefined ? '' : `, --max-steps ${r.maxSteps}`);
    const verdict = `${badge(r.result.verdict)}</td><td>${partsSummary(r.result.claims)}`;
    return `<tr><td>${link}</td><td>${size}</td><td>${verdict}</td><td>${escapeHtml(r.claim)}</td></tr>`;
  });
  const count = `${sections.length} preset${sections.length === 1 ? '' : 's'}`;
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
${banners(sections)}<p>${count}. Each part of a paper's claim is judged by a statistical test declared before the run;
a preset's verdict follows from its parts' (NOT REPRODUCED if any part is, REPRODUCED if every part is, INCONCLUSIVE
otherwise).</p>
<table class="summary">
<thead><tr><th>preset</th><th>size</th><th>verdict</th><th>parts</th><th>claim</th></tr></thead>
<tbody>
${summary.join('\n')}
</tbody>
</table>
${sections.map(section).join('\n')}
</body>
</html>
`;
}
