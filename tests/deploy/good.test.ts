/**
 * "Last good deploy" in `deploy history`: only a release that stayed live for deploy.goodAfter
 * with no firing alert for its app; the release live while an alert fires is never called good.
 * Records and alerts are in a real Redis.
 */
import { describe, expect, it } from 'vitest';
import { deployHistoryVerb } from '../../commands/deploy/index.ts';
import type { DeployRecord } from '../../commands/shared/deploy-records.ts';
import { deployRecords } from '../../commands/shared/deploy-records.ts';
import { alertGroups, groupId } from '../../commands/shared/alert-store.ts';
import { replyToText } from '../../src/render/text.ts';
import { testContext } from '../harness/context.ts';
import { uniqueName } from '../harness/env.ts';

const NOW = new Date('2026-03-10T07:40:00Z');
const REPO = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/autostack/backend';

function record(tag: string, from: string, finished: string, result: DeployRecord['result'] = 'succeeded'): DeployRecord {
  return {
    jobId: uniqueName('job'),
    app: 'backend',
    deployment: 'backend',
    by: 'U0BOB',
    reason: 'release',
    from: { image: `${REPO}:${from}`, revision: 1 },
    to: { image: `${REPO}:${tag}`, tag, revision: 2 },
    result,
    smoke: { passed: 1, failed: 0 },
    startedAt: new Date(Date.parse(finished) - 60_000).toISOString(),
    finishedAt: finished,
    durationMs: 60_000,
  };
}

async function history(seed: { records: DeployRecord[]; firing?: Record<string, string> }) {
  const ctx = testContext({ role: 'viewer', clock: { now: () => NOW }, config: { redis: { prefix: uniqueName('good') }, deploy: { goodAfter: '30m' } } });
  const records = deployRecords(ctx.clients.redis, ctx.config.redis.prefix);
  for (const r of seed.records) await records.add(r);
  if (seed.firing) {
    const groupKey = uniqueName('group');
    await alertGroups(ctx.clients.redis, ctx.config.redis.prefix).save({
      id: groupId(groupKey),
      groupKey,
      alertname: 'RateLimitTriggered',
      channel: 'C0INCIDENT',
      ts: '1.2',
      status: 'firing',
      digest: 'x',
      alerts: [{ fingerprint: 'f1', status: 'firing', startsAt: '2026-03-10T07:30:00Z', labels: seed.firing }],
      resolved: {},
      openedAt: '2026-03-10T07:30:00Z',
      updatedAt: '2026-03-10T07:30:00Z',
    });
  }
  const reply = await deployHistoryVerb.execute!({ limit: 10 }, ctx);
  return replyToText(reply);
}

describe('deploy history: last good deploy', () => {
  it('never calls the release live while an alert for its app fires good; the one before it is', async () => {
    const text = await history({
      records: [record('1.4.1', '1.4.0', '2026-03-09T12:00:00Z'), record('1.4.2', '1.4.1', '2026-03-10T06:30:00Z')],
      firing: { alertname: 'RateLimitTriggered', app: 'backend' },
    });
    expect(text).toContain('Not good (yet): backend backend:1.4.2: live while RateLimitTriggered fires.');
    expect(text).toContain('Last good deploy: backend backend:1.4.1, finished 2026-03-09 12:00 UTC (19 h 40 min ago)');
    expect(text).not.toContain(REPO);
  });

  it('an alert about another app does not count; a release live less than goodAfter is not good yet', async () => {
    const old = await history({
      records: [record('1.4.1', '1.4.0', '2026-03-09T12:00:00Z'), record('1.4.2', '1.4.1', '2026-03-10T06:30:00Z')],
      firing: { alertname: 'X', app: 'frontend' },
    });
    expect(old).toContain('Last good deploy: backend backend:1.4.2');
    const young = await history({ records: [record('1.4.1', '1.4.0', '2026-03-09T12:00:00Z'), record('1.4.2', '1.4.1', '2026-03-10T07:30:00Z')] });
    expect(young).toContain('Not good (yet): backend backend:1.4.2: live for 10m only; good after 30m without an alert.');
    expect(young).toContain('Last good deploy: backend backend:1.4.1');
  });

  it('shows people as mentions and image tags, not registry URIs', async () => {
    const text = await history({ records: [record('1.4.1', '1.4.0', '2026-03-09T12:00:00Z')] });
    expect(text).toContain('backend:1.4.0 → backend:1.4.1: succeeded in 60s, by @U0BOB');
  });
});
