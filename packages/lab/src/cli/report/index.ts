/**
 * Builds the report of a results directory from its results.json files alone: for every
 * <dir>/<preset>/results.json, one CSV and one SVG per plot plus runs.csv and claims.csv (the
 * claim-part table as data) next to it, placement.csv (where each task ran) where results.json
 * records it, and <dir>/index.html over all presets found. Every file is written atomically.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PRESETS } from '../../experiments/registry.js';
import { writeFileAtomic } from 'gradscope/io';
import { RESULTS_FILE, parseResults } from '../../experiments/runner.js';
import { claimsCsv, placementCsv, plotCsv, runsCsv } from './csv.js';
import { reportHtml, type ReportSection } from './html.js';
import { plotSvg } from './plot.js';

export interface ReportSummary {
  html: string;
  presets: string[];
  files: string[];
}

/**
 * The results.json files directly under dir/<name>/: registered presets in `gradscope list`
 * order (the papers' order), then any other folders by name.
 */
export function findResults(dir: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`report: directory '${dir}' does not exist`);
  const rank = (name: string) => {
    const i = PRESETS.findIndex((p) => p.name === name);
    return i < 0 ? PRESETS.length : i;
  };
  return readdirSync(dir)
    .sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0))
    .map((name) => join(dir, name, RESULTS_FILE))
    .filter((p) => existsSync(p));
}

export async function writeReport(dir: string): Promise<ReportSummary> {
  const paths = findResults(dir);
  if (paths.length === 0) {
    const hint = `run 'gradscope run <preset> --out ${dir}' first`;
    throw new Error(`report: no <preset>/${RESULTS_FILE} under '${dir}' (${hint})`);
  }
  const files: string[] = [];
  const sections: ReportSection[] = [];
  for (const path of paths) {
    const results = parseResults(readFileSync(path, 'utf8'), path);
    const presetDir = dirname(path);
    const svgs = new Map<string, string>();
    for (const plot of results.result.plots) {
      const svg = await plotSvg(plot);
      svgs.set(plot.id, svg);
      for (const [name, text] of [[`${plot.id}.csv`, plotCsv(plot)], [`${plot.id}.svg`, `${svg}\n`]] as const) {
        writeFileAtomic(join(presetDir, name), text, 'report');
        files.push(join(presetDir, name));
      }
    }
    const { runs, claims } = results.result;
    const tables: [string, string][] = [['runs.csv', runsCsv(runs)], ['claims.csv', claimsCsv(claims)]];
    if (results.placement) tables.push(['placement.csv', placementCsv(results.placement)]);
    for (const [name, text] of tables) {
      writeFileAtomic(join(presetDir, name), text, 'report');
      files.push(join(presetDir, name));
    }
    sections.push({ results, svgs });
  }
  const html = join(dir, 'index.html');
  writeFileAtomic(html, reportHtml(sections), 'report');
  files.push(html);
  return { html, presets: sections.map((s) => s.results.preset), files };
}
