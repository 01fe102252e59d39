/** alerts/autostack-rules.yml: the runbook's four alert rules in Prometheus rule-file format. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseConfig } from '../../src/config.ts';
import { RUNBOOK_ALERTS } from '../../commands/alerts/view.ts';

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const file = parseConfig({}).alerts.rulesFile;
const rules = parse(readFileSync(file, 'utf8')) as { groups: Array<{ name: string; rules: Rule[] }> };

function rule(name: string): Rule {
  const found = rules.groups.flatMap((g) => g.rules).find((r) => r.alert === name);
  if (!found) throw new Error(`no rule ${name}`);
  return found;
}

/** The comparison an expression ends with: `... > 0.05` → ['>', 0.05]. */
function threshold(expr: string): [string, number] {
  const m = /(>|>=|<|<=|==)\s*([0-9.]+)\s*$/.exec(expr.trim());
  if (!m) throw new Error(`no threshold in ${expr}`);
  return [m[1]!, Number(m[2])];
}

describe('alert rules file', () => {
  it('is the configured default (alerts.rulesFile) in Prometheus rule-file format', () => {
    expect(file).toBe('alerts/autostack-rules.yml');
    expect(Array.isArray(rules.groups)).toBe(true);
    for (const group of rules.groups) {
      expect(group.name).toMatch(/\S/);
      for (const r of group.rules) {
        expect(Object.keys(r).every((k) => ['alert', 'record', 'expr', 'for', 'keep_firing_for', 'labels', 'annotations'].includes(k)), JSON.stringify(Object.keys(r))).toBe(true);
        expect(typeof r.expr).toBe('string');
        if (r.for) expect(r.for).toMatch(/^\d+[smhdwy]$/);
        // Balanced parentheses and braces: a cheap check that the PromQL is not cut.
        for (const [open, close] of [['(', ')'], ['{', '}'], ['[', ']']] as const) {
          expect(r.expr.split(open).length, `${r.alert} ${open}${close}`).toBe(r.expr.split(close).length);
        }
      }
    }
  });

  it('has the runbook\'s four alerts with their thresholds, severities and actions', () => {
    const alerts = rules.groups.flatMap((g) => g.rules).filter((r) => r.alert);
    expect(alerts.map((r) => r.alert).sort()).toEqual(['DatabaseConnectionPoolExhausted', 'DeploymentFailed', 'HighErrorRate', 'HighRateLimiting']);

    const errorRate = rule('HighErrorRate');
    expect(threshold(errorRate.expr)).toEqual(['>', 0.05]);
    expect(errorRate.expr).toMatch(/status=~"5\.\."/);
    expect(errorRate.labels?.severity).toBe('critical');
    expect(errorRate.annotations?.action).toBe('Page on-call engineer');

    const deployment = rule('DeploymentFailed');
    expect(deployment.expr).toMatch(/condition="Progressing", status="false"/);
    expect(deployment.labels?.severity).toBe('high');
    expect(deployment.annotations?.action).toBe('Notify team + auto-rollback');

    const db = rule('DatabaseConnectionPoolExhausted');
    expect(threshold(db.expr)).toEqual(['>', 0.9]);
    expect(db.expr).toContain('pg_settings_max_connections');
    expect(db.labels?.severity).toBe('critical');
    expect(db.annotations?.action).toBe('Scale database');

    const rateLimit = rule('HighRateLimiting');
    expect(threshold(rateLimit.expr)).toEqual(['>', 100]);
    expect(rateLimit.expr).toMatch(/status="429"\}\[1m\]/);
    expect(rateLimit.labels?.severity).toBe('medium');
    expect(rateLimit.annotations?.action).toBe('Investigate potential DDoS');
  });

  it('matches the table the bot uses for the status threads', () => {
    for (const [name, runbook] of Object.entries(RUNBOOK_ALERTS)) {
      const r = rule(name);
      expect(r.labels?.severity).toBe(runbook.severity);
      expect(r.annotations?.action).toBe(runbook.action);
      expect(r.annotations?.summary).toMatch(/\S/);
    }
  });
});
