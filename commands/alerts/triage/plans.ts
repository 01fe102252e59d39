/**
 * Triage plans: which read-only commands run, in the runbook's order, when an alert fires (or
 * when `/autostack triage <scenario>` is typed). One table; help, README, docs/triage.md and the
 * tests read it. `alerts.triage.plans` in the configuration adds plans or replaces a default one
 * of the same scenario.
 *
 * A step is a command line as typed after `/autostack`. `{app}` is the app the alert names (its
 * app/deployment labels, else rateLimit.app); a step with `{source}` runs once per rate-limit log
 * source (rateLimit.app and rateLimit.logSources).
 */
import type { Config } from '../../../src/config.ts';

export interface TriagePlan {
  scenario: string;
  title: string;
  /** The runbook section the plan follows. */
  runbook: string;
  /** Alert names it answers (Alertmanager's alertname). */
  alerts: string[];
  /** Labels the alert must also carry, all of them (empty: any). */
  labels: Record<string, string>;
  steps: string[];
}

export const DEFAULT_TRIAGE_PLANS: readonly TriagePlan[] = [
  {
    scenario: 'S1',
    title: 'Deployment failed or high error rate',
    runbook: 'Incident Response, Scenario 1: Deployment Failed (steps 1–2)',
    alerts: ['HighErrorRate', 'DeploymentFailed'],
    labels: {},
    steps: ['status {app}', 'logs {app} --since 15m --grep error', 'history {app}'],
  },
  {
    scenario: 'S2',
    title: 'Rate limiting triggered',
    runbook: 'Incident Response, Scenario 2: Rate Limiting Triggered (steps 1–2)',
    alerts: ['HighRateLimiting'],
    labels: {},
    steps: ['ratelimit top --since 15m --app {source}'],
  },
  {
    scenario: 'S3',
    title: 'OAuth callback failed',
    runbook: 'Incident Response, Scenario 3: OAuth Callback Failed (steps 1–3)',
    alerts: ['OAuthCallbackErrors'],
    labels: {},
    steps: ['oauth check'],
  },
  {
    scenario: 'S4',
    title: 'Database connection lost',
    runbook: 'Incident Response, Scenario 4: Database Connection Lost (steps 1–2)',
    alerts: ['DatabaseConnectionPoolExhausted', 'DatabaseDown'],
    labels: {},
    steps: ['db check'],
  },
  {
    scenario: 'S5',
    title: 'Terraform state locked',
    runbook: 'Incident Response, Scenario 5: Terraform State Locked (step 1)',
    alerts: ['TerraformStateLockHeld'],
    labels: {},
    steps: ['tf lock'],
  },
];

/** The plans in force: configured ones first (replacing a default of the same scenario), then the defaults. */
export function triagePlans(config: Config): TriagePlan[] {
  const configured = config.alerts.triage.plans.map((p) => ({ runbook: 'configured plan (alerts.triage.plans)', ...p }));
  const replaced = new Set(configured.map((p) => p.scenario.toUpperCase()));
  return [...configured, ...DEFAULT_TRIAGE_PLANS.filter((p) => !replaced.has(p.scenario))];
}

export function planForScenario(config: Config, scenario: string): TriagePlan | undefined {
  return triagePlans(config).find((p) => p.scenario.toUpperCase() === scenario.toUpperCase());
}

/** The first plan answering the alert: its name, and every label the plan asks for. */
export function planForAlert(config: Config, alertname: string, labels: Record<string, string>): TriagePlan | undefined {
  return triagePlans(config).find((p) => p.alerts.includes(alertname) && Object.entries(p.labels).every(([k, v]) => labels[k] === v));
}

/** The plan's command lines with `{app}` filled in and `{source}` steps repeated per log source. */
export function expandSteps(plan: TriagePlan, app: string, config: Config): string[] {
  const sources = [...new Set([config.rateLimit.app, ...config.rateLimit.logSources])];
  return plan.steps.flatMap((step) => {
    const withApp = step.replaceAll('{app}', app);
    return withApp.includes('{source}') ? sources.map((source) => withApp.replaceAll('{source}', source)) : [withApp];
  });
}
