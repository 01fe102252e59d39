/** The default triage plans: read-only verbs that exist, and docs/triage.md listing each of them. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { staticRegistry } from '../../commands/index.ts';
import { resolveVerb } from '../../src/core/registry.ts';
import { tokenize } from '../../src/core/args.ts';
import { parseConfig } from '../../src/config.ts';
import { DEFAULT_TRIAGE_PLANS, expandSteps, planForAlert, triagePlans } from '../../commands/alerts/triage/plans.ts';

describe('triage plans', () => {
  const registry = staticRegistry();

  it('run only verbs without a guard', () => {
    for (const plan of DEFAULT_TRIAGE_PLANS) {
      for (const step of plan.steps) {
        const resolved = resolveVerb(registry, tokenize(step.replaceAll('{app}', 'backend').replaceAll('{source}', 'backend')));
        expect(resolved?.verb.guard, `${plan.scenario}: ${step}`).toBe('none');
      }
    }
  });

  it('are listed in docs/triage.md beside their runbook scenario, step by step', () => {
    const docs = readFileSync('docs/triage.md', 'utf8');
    for (const plan of DEFAULT_TRIAGE_PLANS) {
      const row = docs.split('\n').find((line) => line.includes(`| ${plan.scenario} |`));
      expect(row, plan.scenario).toBeDefined();
      expect(row).toContain(plan.runbook.split(':')[0]!.replace('Incident Response, ', ''));
      for (const alert of plan.alerts) expect(row).toContain(alert);
      for (const step of plan.steps) expect(row).toContain(`\`${step.split(' --app')[0]}`);
    }
  });

  it('configured plans replace the default of their scenario or add one; {source} runs once per log source', () => {
    const config = parseConfig({
      rateLimit: { app: 'gateway', logSources: ['edge', 'gateway'] },
      alerts: { triage: { plans: [{ scenario: 'S4', title: 'Database', alerts: ['DatabaseDown'], labels: { tier: 'primary' }, steps: ['db check', 'status db'] }] } },
    });
    expect(triagePlans(config).map((p) => p.scenario)).toEqual(['S4', 'S1', 'S2', 'S3', 'S5']);
    expect(planForAlert(config, 'DatabaseDown', { tier: 'replica' })).toBeUndefined();
    expect(planForAlert(config, 'DatabaseDown', { tier: 'primary' })?.steps).toEqual(['db check', 'status db']);
    expect(planForAlert(config, 'DatabaseConnectionPoolExhausted', {})).toBeUndefined();
    expect(expandSteps(DEFAULT_TRIAGE_PLANS[1]!, 'backend', config)).toEqual(['ratelimit top --since 15m --app gateway', 'ratelimit top --since 15m --app edge']);
  });
});
