/**
 * README's "runbook step → command" table, generated from the verb table so it cannot drift.
 *   npx tsx scripts/runbook-table.ts          prints it
 *   npx tsx scripts/runbook-table.ts --write  rewrites it in README.md between its markers
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../src/config.ts';
import { usageLine, verbsBySection } from '../src/core/registry.ts';
import type { Verb } from '../src/core/types.ts';
import { areaModules, staticRegistry } from '../commands/index.ts';
import { allJobs } from '../jobs/index.ts';

export const START = '<!-- runbook-table:start -->';
export const END = '<!-- runbook-table:end -->';

function guardText(verb: Verb<unknown>): string {
  return verb.guard === 'approval' ? 'approval' : verb.guard === 'confirm' ? 'confirm' : '—';
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : name.endsWith('.ts') ? [path] : [];
  });
}

/** The job file that runs a queue: `jobs/<queue>.ts` by convention, else the one naming the queue. */
function jobFile(queue: string): string {
  const conventional = `jobs/${queue}.ts`;
  if (existsSync(conventional)) return conventional;
  return sources('jobs').find((file) => readFileSync(file, 'utf8').includes(`'${queue}'`)) ?? 'jobs/';
}

/**
 * Where a verb's code is, for the "code" column: the file declaring it (its path written out in
 * its area's folder; the folder when the path is built), and the job file running its operation.
 */
function codeOf(verb: Verb<unknown>): string {
  const area = areaModules.find((module) => module.verbs.includes(verb))?.area ?? 'core';
  const folder = `commands/${area}/`;
  const literal = `path: [${verb.path.map((word) => `'${word}'`).join(', ')}]`;
  const declaring = sources(folder).filter((file) => readFileSync(file, 'utf8').includes(literal));
  const files = [declaring.length === 1 ? declaring[0]! : folder];
  const job = verb.operation && allJobs.find((definition) => definition.operation === verb.operation);
  if (job) files.push(jobFile(job.name));
  return files.map((file) => `\`${file}\``).join(', ');
}

export function runbookTable(): string {
  const registry = staticRegistry();
  // Schedules that depend on a configured database or channel are shown as configured.
  const config = parseConfig({ channels: { ops: 'C0OPS' }, database: { url: 'postgres://db/autostack' } });
  const lines = ['| Runbook section | Runbook step | Command | Role | Guard | Code |', '|---|---|---|---|---|---|'];
  for (const group of verbsBySection(registry.verbs)) {
    for (const verb of group.verbs) {
      lines.push(`| ${group.title} | ${cell(verb.runbookStep)} | \`${cell(usageLine(verb))}\` | ${verb.minRole} | ${guardText(verb)} | ${codeOf(verb)} |`);
    }
  }
  for (const schedule of registry.schedules) {
    const cron = schedule.cron(config);
    lines.push(`| Scheduled | ${cell(schedule.name)} | job \`${schedule.job}\`${cron ? ` at \`${cron.pattern}\` (${cron.tz})` : ''} | — | — | \`${jobFile(schedule.job)}\` |`);
  }
  for (const route of registry.routes) {
    const area = areaModules.find((module) => module.routes?.includes(route))?.area;
    lines.push(`| HTTP | ${route.method} ${route.path} | served by the bot | — | — | ${area ? `\`commands/${area}/\`` : '—'} |`);
  }
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
