/** README stays true: its runbook table is the verb table's, and its commands exist. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runbookTable, readmeWithTable } from '../../scripts/runbook-table.ts';

describe('README', () => {
  const readme = readFileSync('README.md', 'utf8');
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> };

  it('has the runbook step → command table of the current verb table', () => {
    expect(readmeWithTable(readme, runbookTable()), 'run `npx tsx scripts/runbook-table.ts --write`').toBe(readme);
  });

  it('has a Code column naming files that exist, and docs/ARCHITECTURE.md maps runbook steps to files that exist', () => {
    const table = runbookTable();
    expect(table.split('\n')[0]).toMatch(/\| Code \|$/);
    const architecture = readFileSync('docs/ARCHITECTURE.md', 'utf8');
    const map = architecture.slice(architecture.indexOf('| Runbook section | Verbs |'));
    const named = [...`${table}\n${map.slice(0, map.indexOf('\n\n'))}`.matchAll(/`((?:commands|jobs|src)\/[^`]*)`/g)].map((m) => m[1]!);
    expect(named.length).toBeGreaterThan(60);
    // A bare name in the map (`setup.ts`) is in the folder of the path before it in its cell.
    for (const path of named) expect(existsSync(path), path).toBe(true);
    const bare = [...map.slice(0, map.indexOf('\n\n')).matchAll(/`((?:commands|jobs|src)\/[\w./-]+)`((?:, `[\w.-]+`)+)/g)];
    for (const [, first, rest] of bare) {
      for (const [, name] of rest!.matchAll(/`([\w.-]+)`/g)) expect(existsSync(`${dirname(first!)}/${name}`), `${dirname(first!)}/${name}`).toBe(true);
    }
  });

  it('names commands that exist', () => {
    expect(readme).toContain('npm install && npm start');
    expect(readme).toContain('bash scripts/install-test-deps.sh && npm install && npm test');
    for (const script of ['start', 'test', 'worker', 'playground', 'typecheck', 'lint']) expect(pkg.scripts[script], script).toBeDefined();
    expect(readFileSync('.ci/run', 'utf8')).toMatch(/^npm test\b/m);
  });
});
