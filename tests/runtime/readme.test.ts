/** README stays true: its runbook table is the verb table's, and its commands exist. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runbookTable, readmeWithTable } from '../../scripts/runbook-table.ts';

describe('README', () => {
  const readme = readFileSync('README.md', 'utf8');
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> };

  it('has the runbook step → command table of the current verb table', () => {
    expect(readmeWithTable(readme, runbookTable()), 'run `npx tsx scripts/runbook-table.ts --write`').toBe(readme);
  });

  it('names commands that exist', () => {
    expect(readme).toContain('npm install && npm start');
    expect(readme).toContain('bash scripts/install-test-deps.sh && npm install && npm test');
    for (const script of ['start', 'test', 'worker', 'playground', 'typecheck', 'lint']) expect(pkg.scripts[script], script).toBeDefined();
    expect(readFileSync('.ci/run', 'utf8')).toMatch(/^npm test\b/m);
  });
});
