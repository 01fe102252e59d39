/**
 * The runbook's "Key Metrics to Monitor" that the bot itself can see, in Prometheus text format,
 * served at GET /metrics/runbook. They are computed on each scrape from what is kept in Redis (the
 * deploy counters and records, the rate-limit block records, the open alert groups), so every
 * bot replica answers the same numbers and nothing is lost on restart. A fresh prom-client
 * Registry is built per scrape: no global state, no double registration.
 *
 *   autostack_deployments_total{app,result}            counter  succeeded | rolled_back | failed
 *   autostack_deployment_success_ratio{app}             gauge    succeeded / all deploys
 *   autostack_deployment_seconds_total{app}             counter  sum of deploy durations
 *   autostack_deployment_duration_seconds_average{app}  gauge    average deploy time
 *   autostack_deployment_rollbacks_total{app}           counter  automatic rollbacks
 *   autostack_smoke_checks_total{app,result}            counter  passed | failed
 *   autostack_smoke_check_pass_ratio{app}               gauge    passed / all smoke checks
 *   autostack_deploy_in_progress{app}                   gauge    1 while a deploy holds the app's lock
 *   autostack_ratelimit_blocks_active                   gauge    addresses blocked now (ratelimit block)
 *   autostack_alert_groups_open                         gauge    alert groups firing now (status threads)
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { Config } from '../../src/config.ts';
import type { Clients } from '../../src/core/types.ts';
import { BlockRecords, blocksKey } from '../shared/block-records.ts';
import { alertGroups } from '../shared/alert-store.ts';
import { lockKeys } from './lock.ts';
import { DEPLOY_RESULTS, deployRecords } from '../shared/deploy-records.ts';

interface PerApp {
  results: Record<string, number>;
  rollbacks: number;
  durationMsSum: number;
  durationCount: number;
  smokePassed: number;
  smokeFailed: number;
}

function perApp(counters: Record<string, number>): Map<string, PerApp> {
  const apps = new Map<string, PerApp>();
  const of = (app: string) => {
    let entry = apps.get(app);
    if (!entry) apps.set(app, (entry = { results: {}, rollbacks: 0, durationMsSum: 0, durationCount: 0, smokePassed: 0, smokeFailed: 0 }));
    return entry;
  };
  for (const [field, value] of Object.entries(counters)) {
    const [name, app, label] = field.split('|');
    if (!app || !Number.isFinite(value)) continue;
    const entry = of(app);
    if (name === 'deployments' && label) entry.results[label] = value;
    else if (name === 'rollbacks') entry.rollbacks = value;
    else if (name === 'duration_ms_sum') entry.durationMsSum = value;
    else if (name === 'duration_count') entry.durationCount = value;
    else if (name === 'smoke' && label === 'passed') entry.smokePassed = value;
    else if (name === 'smoke' && label === 'failed') entry.smokeFailed = value;
  }
  return apps;
}

export async function runbookMetrics(config: Config, clients: Pick<Clients, 'redis' | 'clock'>): Promise<{ contentType: string; text: string }> {
  const registry = new Registry();
  const registers = [registry];
  const deployments = new Counter({ name: 'autostack_deployments_total', help: 'Deploys through the bot, by app and result', labelNames: ['app', 'result'] as const, registers });
  const success = new Gauge({ name: 'autostack_deployment_success_ratio', help: 'Deploys that succeeded, out of all deploys of the app', labelNames: ['app'] as const, registers });
  const seconds = new Counter({ name: 'autostack_deployment_seconds_total', help: 'Total time spent deploying, in seconds', labelNames: ['app'] as const, registers });
  const average = new Gauge({ name: 'autostack_deployment_duration_seconds_average', help: 'Average deploy time, in seconds', labelNames: ['app'] as const, registers });
  const rollbacks = new Counter({ name: 'autostack_deployment_rollbacks_total', help: 'Automatic rollbacks after a failed deploy', labelNames: ['app'] as const, registers });
  const smoke = new Counter({ name: 'autostack_smoke_checks_total', help: 'Smoke checks run after deploys, by result', labelNames: ['app', 'result'] as const, registers });
  const smokeRatio = new Gauge({ name: 'autostack_smoke_check_pass_ratio', help: 'Smoke checks that passed, out of all run for the app', labelNames: ['app'] as const, registers });
  const inProgress = new Gauge({ name: 'autostack_deploy_in_progress', help: '1 while a deploy of the app is running', labelNames: ['app'] as const, registers });
  const blocks = new Gauge({ name: 'autostack_ratelimit_blocks_active', help: 'Client addresses blocked now by ratelimit block', registers });
  const alerts = new Gauge({ name: 'autostack_alert_groups_open', help: 'Alertmanager alert groups firing now (open status threads)', registers });

  const counters = await deployRecords(clients.redis, config.redis.prefix).counters();
  for (const [app, entry] of perApp(counters)) {
    let total = 0;
    for (const result of DEPLOY_RESULTS) {
      const value = entry.results[result] ?? 0;
      total += value;
      deployments.inc({ app, result }, value);
    }
    if (total > 0) success.set({ app }, (entry.results.succeeded ?? 0) / total);
    seconds.inc({ app }, entry.durationMsSum / 1000);
    if (entry.durationCount > 0) average.set({ app }, entry.durationMsSum / 1000 / entry.durationCount);
    rollbacks.inc({ app }, entry.rollbacks);
    smoke.inc({ app, result: 'passed' }, entry.smokePassed);
    smoke.inc({ app, result: 'failed' }, entry.smokeFailed);
    if (entry.smokePassed + entry.smokeFailed > 0) smokeRatio.set({ app }, entry.smokePassed / (entry.smokePassed + entry.smokeFailed));
  }
  for (const app of Object.keys(config.deploy.apps)) {
    inProgress.set({ app }, (await clients.redis.exists(lockKeys(config.redis.prefix, app).lock)) ? 1 : 0);
  }
  const now = clients.clock.now().getTime();
  const active = (await new BlockRecords(clients.redis, blocksKey(config.redis.prefix)).all()).filter((r) => Date.parse(r.until) > now);
  blocks.set(active.length);
  alerts.set(await alertGroups(clients.redis, config.redis.prefix).openCount());
  return { contentType: registry.contentType, text: await registry.metrics() };
}
