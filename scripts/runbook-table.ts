/**
 * README's "runbook step → command" table, generated from the verb table so it cannot drift.
 *   npx tsx scripts/runbook-table.ts          prints it
 *   npx tsx scripts/runbook-table.ts --write  rewrites it in README.md between its markers
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../src/config.ts';
import { usageLine, verbsBySection } from '../src/core/registry.ts';
import type { Verb } from '../src/core/types.ts';
import { staticRegistry } from '../commands/index.ts';

export const START = '<!-- runbook-table:start -->';
export const END = '<!-- runbook-table:end -->';

function guardText(verb: Verb<unknown>): string {
  return verb.guard === 'approval' ? 'approval' : verb.guard === 'confirm' ? 'confirm' : '—';
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function runbookTable(): string {
  const registry = staticRegistry();
  // Schedules that depend on a configured database or channel are shown as configured.
  const config = parseConfig({ channels: { ops: 'C0OPS' }, database: { url: 'postgres://db/autostack' } });
  const lines = ['| Runbook section | Runbook step | Command | Role | Guard |', '|---|---|---|---|---|'];
  for (const group of verbsBySection(registry.verbs)) {
    for (const verb of group.verbs) {
      lines.push(`| ${group.title} | ${cell(verb.runbookStep)} | \`${cell(usageLine(verb))}\` | ${verb.minRole} | ${guardText(verb)} |`);
    }
  }
  for (const schedule of registry.schedules) {
    const cron = schedule.cron(config);
    lines.push(`| Scheduled | ${cell(schedule.name)} | job \`${schedule.job}\`${cron ? ` at \`${cron.pattern}\` (${cron.tz})` : ''} | — | — |`);
  }
  for (const route of registry.routes) lines.push(`| HTTP | ${route.method} ${route.path} | served by the bot | — | — |`);
  return lines.join('\n');
}

export function readmeWithTable(readme: string, table: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start === -1 || end === -1) throw new Error(`README.md needs the markers ${START} and ${END}`);
  return `${readme.slice(0, start + START.length)}\n${table}\n${readme.slice(end)}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const table = runbookTable();
  if (process.argv.includes('--write')) writeFileSync('README.md', readmeWithTable(readFileSync('README.md', 'utf8'), table));
  else console.log(table);
}
