/** `gradscope report <DIR>`: rebuild DIR's CSV files, SVG plots and index.html from its results.json files. */
import { writeReport } from '../report/index.js';

export async function reportCommand(dir: string, print: (line: string) => void): Promise<number> {
  const report = await writeReport(dir);
  print(`rebuilt the report of ${report.presets.length} preset${report.presets.length === 1 ? '' : 's'} (${report.presets.join(', ')})`);
  print(`report: ${report.html}`);
  return 0;
}
