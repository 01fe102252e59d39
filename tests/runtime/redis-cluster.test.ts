/**
 * The runtime's Redis work — jobs (BullMQ), schedules (BullMQ job schedulers), approvals
 * (PendingStore) and the audit stream — on a single Redis and on a real 3-master Redis Cluster.
 * On the cluster, a command or transaction whose keys lie in different slots is refused with
 * CROSSSLOT: any such key in this code fails these tests. The cluster is started for this file
 * and stopped after it (its processes must be gone).
 */
import { WebClient } from '@slack/web-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { parseConfig } from '../../src/config.ts';
import { createClients } from '../../src/clients.ts';
import { RedisAuditLog } from '../../src/core/audit.ts';
import { JobSystem } from '../../src/core/jobs.ts';
import { PendingStore } from '../../src/core/pending.ts';
import { createSecretBox, randomSecretKey } from '../../src/core/secrets.ts';
import type { JobDefinition } from '../../src/core/types.ts';
import { createLogger } from '../../src/logger.ts';
import { createMetrics } from '../../src/metrics.ts';
import { clusterNodes, connectRedis } from '../../src/redis.ts';
import { slackNotifier } from '../../src/slack/notifier.ts';
import { EMULATOR_DEFAULTS, SlackEmulator } from '../../dev/slack-emulator/index.ts';
import { testServices, uniqueName } from '../harness/env.ts';
import { startRedisCluster, waitUntil } from '../harness/services.ts';
import type { RedisClusterInstance } from '../harness/services.ts';

const OPS = 'C0OPS00001';
let cluster: RedisClusterInstance;
let slack: SlackEmulator;
const connections: Redis[] = [];
const systems: JobSystem[] = [];

beforeAll(async () => {
  cluster = await startRedisCluster();
  slack = await new SlackEmulator({ autoCreateChannels: true }).start();
  slack.addChannel(OPS, 'ops');
});

afterAll(async () => {
  await Promise.allSettled(systems.map((s) => s.close()));
  for (const c of connections) c.disconnect();
  await slack?.close();
  const pids = cluster?.pids ?? [];
  await cluster?.stop();
  for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
});

function connect(url: string): Redis {
  const redis = connectRedis(url, { maxRetriesPerRequest: 3 });
  connections.push(redis);
  return redis;
}

describe('Redis Cluster', () => {
  it('is three masters covering every slot', async () => {
    const redis = connect(cluster.url);
    await waitUntil('the cluster client to know its three masters', 10_000, async () => (redis as unknown as { nodes(role: string): unknown[] }).nodes('master').length === 3);
    const info = (await redis.call('CLUSTER', 'INFO')) as string;
    expect(info).toContain('cluster_state:ok');
    expect(info).toContain('cluster_slots_assigned:16384');
    expect(info).toContain('cluster_size:3');
  });

  it('refuses a transaction over keys without a shared hash tag (CROSSSLOT) and accepts it with one', async () => {
    const redis = connect(cluster.url);
    const prefix = uniqueName('slot');
    // Without the tag the two keys hash to different slots (checked, not assumed).
    const a = `${prefix}:pending:a`;
    const b = `${prefix}:audit`;
    const [slotA, slotB] = await Promise.all([redis.call('CLUSTER', 'KEYSLOT', a), redis.call('CLUSTER', 'KEYSLOT', b)]);
    expect(slotA).not.toBe(slotB);
    await expect(redis.multi().set(a, '1').set(b, '2').exec()).rejects.toThrow(/CROSSSLOT|slot/i);
    const tagged = await redis.multi().set(`{${prefix}}:pending:a`, '1').set(`{${prefix}}:audit`, '2').exec();
    expect(tagged?.map(([error]) => error)).toEqual([null, null]);
  });
});

describe.each([
  ['a single Redis', () => testServices().redisUrl],
  ['a Redis Cluster', () => cluster.url],
])('the runtime on %s', (_label, url) => {
  it('approvals: a pending request is created, read and decided once', async () => {
    const store = new PendingStore(connect(url()), uniqueName('appr'));
    const now = Date.now();
    const created = await store.create({ kind: 'approval', verb: 'db restart', sealedParams: 'sealed', planHash: 'h', plan: '{}', requester: 'U0REQ', channel: OPS, createdAt: now, expiresAt: now + 60_000 });
    expect((await store.get(created.id))?.status).toBe('pending');
    expect(await store.decide(created.id, 'approved', 'U0APPROVER', now + 1000)).toBe('ok');
    expect(await store.decide(created.id, 'rejected', 'U0OTHER', now + 2000)).toBe('approved');
    expect(await store.get(created.id)).toMatchObject({ status: 'approved', decidedBy: 'U0APPROVER' });
  });

  it('audit: entries reach the stream in order', async () => {
    const redis = connect(url());
    const key = `${uniqueName('audit')}:audit`;
    const log = new RedisAuditLog(redis, key, { now: () => new Date() }, createLogger('silent'));
    expect(await log.record({ actor: 'U0A', action: 'first', result: 'ok' })).toBe('stored');
    expect(await log.record({ actor: 'U0A', action: 'second', result: 'ok', args: { token: 'xoxb-not-kept' } })).toBe('stored');
    const entries = await redis.xrange(key, '-', '+');
    expect(entries.map(([, fields]) => fields[fields.indexOf('action') + 1])).toEqual(['first', 'second']);
    expect(JSON.stringify(entries)).not.toContain('xoxb-not-kept');
  });

  it('jobs and schedules: a started job and a scheduled one run to the end through BullMQ', async () => {
    const config = parseConfig({ channels: { ops: OPS }, redis: { url: url(), prefix: uniqueName('jobs') } });
    const ran: string[] = [];
    const job: JobDefinition<{ who: string }> = {
      name: 'cluster-echo',
      title: (data) => `Echo for ${data.who}`,
      async process(run) {
        ran.push(run.data.who);
        await run.step(`echo ${run.data.who}`);
        return { summary: `echoed ${run.data.who}`, parts: [], visibility: 'channel' };
      },
    };
    const web = new WebClient(EMULATOR_DEFAULTS.botToken, { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } });
    const system = new JobSystem({
      redisUrl: url(),
      prefix: config.redis.prefix,
      jobs: new Map([[job.name, job as JobDefinition<unknown>]]),
      config,
      clients: createClients(config, connect(url()), slackNotifier(web)),
      secrets: createSecretBox(randomSecretKey()),
      audit: { record: async () => 'stored' },
      log: createLogger('silent'),
      metrics: createMetrics(),
    });
    systems.push(system);
    await system.runWorkers(1);
    const ref = await system.start(job.name, { who: 'operator' }, { channel: OPS, requestedBy: 'U0OPER0001' });
    await waitUntil(`job ${ref.id} to finish`, 30_000, async () => Boolean((await system.queue.getJob(ref.id))?.finishedOn));
    expect((await system.queue.getJob(ref.id))?.returnvalue).toBeDefined();
    expect(ran).toContain('operator');
    await system.registerSchedules([{ name: 'every-second', job: job.name, cron: () => ({ pattern: '* * * * * *', tz: 'UTC' }), data: () => ({ who: 'schedule' }), quiet: true }]);
    await waitUntil('a scheduled run', 30_000, async () => ran.includes('schedule'));
    await system.queue.removeJobScheduler('every-second');
  });
});

describe('redis.url for a cluster', () => {
  it('names its seed nodes and credentials, and refuses a node that is not host:port', () => {
    expect(clusterNodes('redis-cluster://bot:p%40ss@10.0.0.1:7000,10.0.0.2:7001')).toEqual({
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
      ],
      username: 'bot',
      password: 'p@ss',
    });
    expect(() => clusterNodes('redis-cluster://10.0.0.1')).toThrow('redis.url: "10.0.0.1" is not host:port (a cluster URL is redis-cluster://host:port,host:port,...)');
  });
});
