/**
 * An alert's thread gets the chart of its expression's last hour from Prometheus' HTTP API. No
 * Prometheus binary builds here, so a small fake answers `/api/v1/query_range` as Prometheus does
 * (form-encoded POST, a matrix of [unix seconds, "value"] pairs); the bot, Slack and Redis are real.
 */
import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertsModule } from '../../commands/alerts/index.ts';
import { alertExpression, splitThreshold } from '../../commands/alerts/prometheus.ts';
import { INCIDENT, startTestBot } from '../harness/bot.ts';
import type { TestBot } from '../harness/bot.ts';
import { closeServer, listenOnLoopback } from '../harness/fake-http.ts';
import { uniqueName } from '../harness/env.ts';
import { payload } from './payloads.ts';

const TOKEN = `am-${uniqueName('tok')}`;
const EXPR = 'sum(rate(nginx_http_requests_total{status="429"}[1m])) * 60 > 100';
const queries: URLSearchParams[] = [];
let answer: { status: number; body: unknown };
const prometheus = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    if (req.method !== 'POST' || req.url !== '/api/v1/query_range') {
      res.writeHead(404).end();
      return;
    }
    queries.push(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
    res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
  });
});
let t: TestBot;
let base: string;

beforeAll(async () => {
  const url = await listenOnLoopback(prometheus);
  t = await startTestBot({ modules: [alertsModule], config: { alerts: { token: TOKEN }, prometheus: { url } } });
  base = t.url.replace(/\/slack\/events$/, '');
});
afterAll(async () => {
  await t?.stop();
  await closeServer(prometheus);
});

function firing(group: string) {
  const body = payload({ groupKey: `{}:{alertname="HighRateLimitHits",g="${group}"}`, alertname: 'HighRateLimitHits', severity: 'warning', alerts: [{ startsAt: new Date().toISOString(), fingerprint: group }] });
  for (const alert of body.alerts) alert.generatorURL = `http://prometheus.example:9090/graph?g0.expr=${encodeURIComponent(EXPR)}&g0.tab=1`;
  return body;
}

async function send(body: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${base}/alerts`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(body) });
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}

describe('alert charts from Prometheus', () => {
  it('reads the expression from the rule link and splits off its threshold', () => {
    expect(alertExpression(`http://p:9090/graph?g0.expr=${encodeURIComponent(EXPR)}`)).toBe(EXPR);
    expect(alertExpression(undefined)).toBeUndefined();
    expect(splitThreshold(EXPR)).toEqual({ query: 'sum(rate(nginx_http_requests_total{status="429"}[1m])) * 60', threshold: 100 });
    expect(splitThreshold('up == 0')).toEqual({ query: 'up == 0' });
  });

  it('a new firing alert gets the last hour of its expression, with the threshold, in its thread', async () => {
    const now = Math.floor(Date.now() / 60_000) * 60;
    const values = Array.from({ length: 61 }, (_, i) => [now - (60 - i) * 60, String(i > 50 ? 140 + i : 20)] as [number, string]);
    answer = { status: 200, body: { status: 'success', data: { resultType: 'matrix', result: [{ metric: {}, values }] } } };
    const outcome = await send(firing('one'));
    expect(outcome.result).toBe('opened');

    const query = queries.at(-1)!;
    expect(query.get('query')).toBe('sum(rate(nginx_http_requests_total{status="429"}[1m])) * 60');
    expect(Number(query.get('end')) - Number(query.get('start'))).toBe(3600);
    expect(query.get('step')).toBe('60');

    const file = await t.eventually(() => t.emulator.files().find((f) => f.title === 'HighRateLimitHits: last hour'), 'the alert chart');
    expect(file.alt_text).toBe('sum(rate(nginx_http_requests_total{status="429"}[1m])) * 60 over the last hour (Prometheus): now 200; peak 200; threshold 100.');
    expect(file.shares).toEqual([expect.objectContaining({ channel: INCIDENT, thread_ts: outcome.ts })]);
  });

  it('a Prometheus error leaves the alert posted, without a chart', async () => {
    const files = t.emulator.files().length;
    answer = { status: 400, body: { status: 'error', errorType: 'bad_data', error: 'parse error' } };
    const outcome = await send(firing('two'));
    expect(outcome.result).toBe('opened');
    expect(t.text(t.emulator.message(INCIDENT, outcome.ts as string)!)).toContain('HighRateLimitHits');
    expect(t.emulator.thread(INCIDENT, outcome.ts as string).filter((m) => m.ts !== outcome.ts)).toEqual([]);
    expect(t.emulator.files()).toHaveLength(files);
  });
});
