/**
 * Rate limiting end to end through the real bot (signed slash commands, the dispatcher's
 * confirmation, BullMQ delayed jobs in the test Redis) against the Slack emulator and the test
 * Kubernetes control plane (the bot under its Role), including a restart of the bot between the block and its expiry.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { kubeClientsFrom } from '../../../src/clients.ts';
import type { CommandModule } from '../../../src/core/types.ts';
import { rateLimitActions, rateLimitVerbs } from '../../../commands/incident/ratelimit/index.ts';
import { applyBlock, unblockJobId } from '../../../commands/incident/ratelimit/block.ts';
import { DENYLIST_ANNOTATION } from '../../../commands/incident/ratelimit/blocklist.ts';
import { BlockRecords, blocksKey } from '../../../commands/shared/block-records.ts';
import { createDeployment, deploymentPods, kubeNamespace, setPodLogs } from '../../harness/kube-env.ts';
import type { TestNamespace } from '../../harness/kube-env.ts';
import { INCIDENT, OPS, USERS, startTestBot } from '../../harness/bot.ts';
import type { TestBot } from '../../harness/bot.ts';
import { uniqueName } from '../../harness/env.ts';
import { nginxTime } from './log-lines.ts';

const module: CommandModule = { area: 'incident', verbs: rateLimitVerbs, actions: rateLimitActions };

let kns: TestNamespace;
let NS: string;
let prefix: string;
const bots: TestBot[] = [];

beforeEach(async () => {
  kns = await kubeNamespace();
  NS = kns.name;
  await kns.kube.networking.createNamespacedIngress({
    namespace: NS,
    body: {
      metadata: { name: 'autostack', annotations: { [DENYLIST_ANNOTATION]: '192.0.2.0/24' } },
      spec: { rules: [{ host: 'app.autostack.example', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'backend', port: { number: 8000 } } } }] } }] },
    },
  });
  prefix = uniqueName('rl');
});
afterEach(async () => {
  for (const bot of bots.splice(0)) await bot.stop().catch(() => undefined);
});

/** A bot replica sharing the Redis prefix (so the queue and the records) of this test. */
async function startReplica(runWorkers = true, config: Record<string, unknown> = {}): Promise<TestBot> {
  const kc = kns.bot;
  const bot = await startTestBot({
    modules: [module],
    runWorkers,
    config: { redis: { prefix }, kubernetes: { namespace: NS }, ...config },
    overrides: { kube: () => kubeClientsFrom(kc) },
  });
  bots.push(bot);
  return bot;
}

async function stop(bot: TestBot): Promise<void> {
  bots.splice(bots.indexOf(bot), 1);
  await bot.stop();
}

const annotation = async () => (await kns.kube.networking.readNamespacedIngress({ name: 'autostack', namespace: NS })).metadata?.annotations?.[DENYLIST_ANNOTATION];

describe('ratelimit block through the bot', () => {
  it('a viewer may not block; an operator confirms, the block applies, and after a restart the TTL job lifts it', async () => {
    const first = await startReplica();
    await first.command(USERS.viewer, 'ratelimit block 203.0.113.7', INCIDENT);
    expect(first.ephemeralTexts(USERS.viewer).at(-1)).toMatch(/not allowed to run `ratelimit block`: it needs the operator role/);

    await first.command(USERS.operator, 'ratelimit block 10.0.0.5', INCIDENT);
    expect(first.ephemeralTexts(USERS.operator).at(-1)).toMatch(/overlaps 10\.0\.0\.0\/8 private/);

    await first.command(USERS.operator, 'ratelimit block 203.0.113.7 --ttl 1h credential stuffing', INCIDENT);
    const confirm = first.lastEphemeral(USERS.operator)!;
    expect(first.text(confirm)).toContain('Block 203.0.113.7/32 for 1h');
    expect(await annotation()).toBe('192.0.2.0/24');
    await first.click(USERS.operator, { channel: INCIDENT, ts: confirm.ts }, 'Confirm');
    await first.eventually(() => first.messages(INCIDENT).some((m) => first.text(m).includes('Blocked 203.0.113.7/32 until')), 'the block message');
    expect(await annotation()).toBe('192.0.2.0/24,203.0.113.7/32');

    const record = await new BlockRecords(first.bot.deps.clients.redis, blocksKey(prefix)).get('203.0.113.7/32');
    expect(record).toMatchObject({ by: USERS.operator, reason: 'credential stuffing', channel: INCIDENT });
    const jobId = unblockJobId('203.0.113.7/32', Date.parse(record!.until));
    expect(await (await first.bot.jobs.queue.getJob(jobId))!.getState()).toBe('delayed');

    // The bot restarts; a new replica with its own workers takes over the same queue.
    await stop(first);
    expect(await annotation()).toBe('192.0.2.0/24,203.0.113.7/32');
    const second = await startReplica();
    const delayed = await second.bot.jobs.queue.getJob(jobId);
    expect(await delayed!.getState()).toBe('delayed');
    await delayed!.promote(); // the hour has passed
    // The job removes the entry, then the record, then finishes.
    await second.eventually(async () => (await second.bot.jobs.queue.getJob(jobId))?.finishedOn !== undefined, 'the job to finish');
    expect(await (await second.bot.jobs.queue.getJob(jobId))!.getState()).toBe('completed');
    expect(await annotation()).toBe('192.0.2.0/24');
    const store = new BlockRecords(second.bot.deps.clients.redis, blocksKey(prefix));
    expect(await store.get('203.0.113.7/32')).toBeUndefined();
    // Its end is kept for the chart's unblock marker.
    expect(await store.endedSince(new Date(Date.parse(record!.at)))).toEqual([{ cidr: '203.0.113.7/32', at: record!.at, endedAt: expect.any(String) }]);
  });

  it('a delayed unblock scheduled by a replica that stopped fires on its own in a new replica', async () => {
    const first = await startReplica(false);
    const { deps } = first.bot;
    await applyBlock(
      { config: deps.config, clients: deps.clients, jobs: first.bot.jobs, audit: deps.audit, actorId: USERS.operator, channel: '' },
      { cidr: '2001:db8:bad::/48', kind: 'ipv6', ttlMs: 1500, reason: 'botnet', forced: false },
    );
    expect(await annotation()).toBe('192.0.2.0/24,2001:db8:bad::/48');
    await stop(first);

    const second = await startReplica(true);
    // No promotion: the real delay elapses and the new replica's worker runs the job, which
    // removes the entry and then the record.
    const records = new BlockRecords(second.bot.deps.clients.redis, blocksKey(prefix));
    await second.eventually(async () => (await annotation()) === '192.0.2.0/24' && (await records.all()).length === 0, 'the TTL unblock after the delay', 30_000);
  });

  it('ratelimit top posts the offenders; their Block button asks to confirm, then blocks', async () => {
    await createDeployment(kns, { name: 'backend', image: 'backend:1.0' });
    const [pod] = await deploymentPods(kns, 'backend');
    await setPodLogs(kns, pod!.metadata!.name!, { backend: { lines: [
      ...Array.from({ length: 12 }, (_, i) => `INFO:     203.0.113.7:${40000 + i} - "POST /login HTTP/1.1" 429 Too Many Requests`),
      'INFO:     198.51.100.2:5000 - "POST /login HTTP/1.1" 429 Too Many Requests',
    ] } });
    const bot = await startReplica();
    await bot.command(USERS.viewer, 'ratelimit top --since 10m', INCIDENT);
    const report = await bot.eventually(() => bot.messages(INCIDENT).find((m) => bot.text(m).includes('429s on backend, last 10m')), 'the report');
    expect(bot.text(report)).toMatch(/203\.0\.113\.7\s+12\s+92%/);

    await bot.click(USERS.viewer, { channel: INCIDENT, ts: report.ts }, 'Block 203.0.113.7');
    expect(bot.ephemeralTexts(USERS.viewer).at(-1)).toMatch(/needs the operator role/);
    await bot.click(USERS.operator, { channel: INCIDENT, ts: report.ts }, 'Block 203.0.113.7');
    // The confirmation of the typed verb: a pending request bound to the plan, with its expiry.
    const plan = bot.lastEphemeral(USERS.operator)!;
    expect(bot.text(plan)).toContain('Block 203.0.113.7/32 for 1h');
    expect(bot.text(plan)).toMatch(/Expires at \d\d:\d\d UTC/);
    expect(await annotation()).toBe('192.0.2.0/24');
    // Only the person who asked can confirm it.
    await bot.click(USERS.approver, { channel: INCIDENT, ts: plan.ts }, 'Confirm');
    expect(bot.ephemeralTexts(USERS.approver).at(-1)).toMatch(/Only the person who ran the command can confirm it/);
    expect(await annotation()).toBe('192.0.2.0/24');
    await bot.click(USERS.operator, { channel: INCIDENT, ts: plan.ts }, 'Confirm');
    await bot.eventually(async () => (await annotation()) === '192.0.2.0/24,203.0.113.7/32', 'the block');
    expect(await new BlockRecords(bot.bot.deps.clients.redis, blocksKey(prefix)).get('203.0.113.7/32')).toMatchObject({ by: USERS.operator, reason: '429 offender (ratelimit top)' });
    // A second click of the same confirmation does nothing more.
    await bot.click(USERS.operator, { channel: INCIDENT, ts: plan.ts }, 'Confirm');
    expect(bot.ephemeralTexts(USERS.operator).at(-1)).toMatch(/Already confirmed|already approved/i);
  });

  it('ratelimit top attaches the 429s-per-minute chart in its thread, with the threshold, the offender and the blocks made and lifted', async () => {
    await createDeployment(kns, { name: 'backend', image: 'backend:1.0' });
    const [pod] = await deploymentPods(kns, 'backend');
    const minute = Math.floor(Date.now() / 60_000) * 60_000;
    // Four minutes: 2, 30, 8, 1 429s; the threshold is 20/min, so one minute is over it.
    const counts = [2, 30, 8, 1];
    const lines = counts.flatMap((n, m) => Array.from({ length: n }, (_, i) => {
      const at = minute - (4 - m) * 60_000 + i * 100;
      return { time: new Date(at), text: `203.0.113.9 - - [${nginxTime(at)}] "POST /login HTTP/1.1" 429 0 "-" "curl"` };
    }));
    await setPodLogs(kns, pod!.metadata!.name!, { backend: { lines } });
    const bot = await startReplica(true, { rateLimit: { perMinuteThreshold: 20 } });
    const blockedAt = minute - 2 * 60_000;
    const store = new BlockRecords(bot.bot.deps.clients.redis, blocksKey(prefix));
    const target = { kind: 'ingress', namespace: NS, name: 'autostack' } as const;
    await store.put({ cidr: '203.0.113.9/32', by: USERS.operator, reason: 'test', at: new Date(blockedAt).toISOString(), until: new Date(minute + 3_600_000).toISOString(), target });
    // A block made at the start of the window and lifted a minute ago.
    const lifted = { cidr: '198.51.100.4/32', by: USERS.operator, reason: 'test', at: new Date(minute - 4 * 60_000).toISOString(), until: new Date(minute + 3_600_000).toISOString(), target };
    await store.put(lifted);
    await store.delete(lifted, new Date(minute - 60_000));

    await bot.command(USERS.viewer, 'ratelimit top --since 10m', INCIDENT);
    const report = await bot.eventually(() => bot.messages(INCIDENT).find((m) => bot.text(m).includes('429s on backend, last 10m')), 'the report');
    const file = await bot.eventually(() => bot.emulator.files().find((f) => f.name.endsWith('.png')), 'the chart upload');
    const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);
    expect(file.title).toBe('429s per minute on backend, last 10m');
    expect(file.alt_text).toBe(
      `429s per minute on backend, ${hhmm(minute - 4 * 60_000)} to ${hhmm(minute)} UTC: peak 30/min at ${hhmm(minute - 3 * 60_000)}; threshold 20/min exceeded in 1 minute; ` +
        `203.0.113.9 peak 30/min at ${hhmm(minute - 3 * 60_000)}; blocked 198.51.100.4/32 at ${hhmm(minute - 4 * 60_000)}; blocked 203.0.113.9/32 at ${hhmm(blockedAt)}; unblocked 198.51.100.4/32 at ${hhmm(minute - 60_000)}.`,
    );
    expect(file.shares).toEqual([expect.objectContaining({ channel: INCIDENT, thread_ts: report.ts })]);
    // The text stays the truth: the same numbers are in the message, the sparkline beside them.
    expect(bot.text(report)).toContain(`📈 ▁█▃▁ ${file.alt_text}`);
  });

  it('a Block button clicked where `ratelimit block` is not allowed is refused and changes nothing', async () => {
    await createDeployment(kns, { name: 'backend', image: 'backend:1.0' });
    const [pod] = await deploymentPods(kns, 'backend');
    await setPodLogs(kns, pod!.metadata!.name!, { backend: { lines: Array.from({ length: 5 }, (_, i) => `INFO:     203.0.113.8:${40000 + i} - "POST /login HTTP/1.1" 429 Too Many Requests`) } });
    // `ratelimit block` only in #ops; `ratelimit top` anywhere.
    const bot = await startReplica(true, { access: { channels: { 'ratelimit block': [OPS] } } });
    await bot.command(USERS.viewer, 'ratelimit top --since 10m', INCIDENT);
    const report = await bot.eventually(() => bot.messages(INCIDENT).find((m) => bot.text(m).includes('429s on backend, last 10m')), 'the report');
    const typed = bot.ephemeralTexts(USERS.operator).length;

    await bot.click(USERS.operator, { channel: INCIDENT, ts: report.ts }, 'Block 203.0.113.8');
    const answers = bot.ephemeralTexts(USERS.operator).slice(typed);
    expect(answers).toEqual([expect.stringMatching(/`ratelimit block` can only be run in <#C0OPS>/)]);
    // No confirmation to click, no block, no record, no unblock job.
    expect(bot.lastEphemeral(USERS.operator)!.blocks ?? []).not.toContainEqual(expect.objectContaining({ type: 'actions' }));
    expect(await annotation()).toBe('192.0.2.0/24');
    expect(await new BlockRecords(bot.bot.deps.clients.redis, blocksKey(prefix)).all()).toEqual([]);
    expect(await bot.bot.jobs.queue.getJobs(['delayed', 'waiting', 'active'])).toEqual([]);
    const audit = await bot.bot.audit.latest(5);
    expect(audit.map((e) => [e.action, e.result])).toContainEqual(['ratelimit block', 'denied: channel']);

    // The confirm button of earlier versions (no pending request, no plan binding) is gone.
    const forged = bot.emulator.blockAction({ user: USERS.operator, actionId: 'ratelimit.block', channel: INCIDENT, messageTs: report.ts, action: { value: '203.0.113.8' } });
    const payload = JSON.parse(new URLSearchParams(forged.body).get('payload')!) as { actions: Array<{ action_id: string; value: string }> };
    payload.actions[0] = { ...payload.actions[0]!, action_id: 'ratelimit.block.confirm', value: JSON.stringify({ cidr: '203.0.113.8/32', ttl: '1h' }) };
    expect((await bot.emulator.deliver(bot.url, new URLSearchParams({ payload: JSON.stringify(payload) }).toString())).status).toBe(200);
    await bot.bot.dispatcher.settled();
    await bot.eventually(() => bot.ephemeralTexts(USERS.operator).at(-1)?.includes('This button is no longer supported.'), 'the answer to the old button');
    expect(await annotation()).toBe('192.0.2.0/24');
  });

  it('ratelimit blocks and unblock through the bot', async () => {
    const bot = await startReplica();
    await bot.command(USERS.operator, 'ratelimit block 198.51.100.77 scraper', INCIDENT);
    await bot.click(USERS.operator, { channel: INCIDENT, ts: bot.lastEphemeral(USERS.operator)!.ts }, 'Confirm');
    await bot.eventually(async () => (await annotation()) === '192.0.2.0/24,198.51.100.77/32', 'the block');

    await bot.command(USERS.viewer, 'ratelimit blocks', INCIDENT);
    const listing = await bot.eventually(() => bot.messages(INCIDENT).map((m) => bot.text(m)).find((t) => t.includes('1 block by the bot')), 'the listing');
    expect(listing).toContain('198.51.100.77/32');
    expect(listing).toContain('scraper');
    expect(listing).toContain('not added by the bot (kept as they are): 192.0.2.0/24');

    await bot.command(USERS.operator, 'ratelimit unblock 198.51.100.77', INCIDENT);
    await bot.click(USERS.operator, { channel: INCIDENT, ts: bot.lastEphemeral(USERS.operator)!.ts }, 'Confirm');
    await bot.eventually(async () => (await annotation()) === '192.0.2.0/24', 'the unblock');
    await bot.eventually(() => bot.messages(INCIDENT).some((m) => bot.text(m).includes('Unblocked 198.51.100.77/32')), 'the unblock message');
    const ended = await new BlockRecords(bot.bot.deps.clients.redis, blocksKey(prefix)).endedSince(new Date(0));
    expect(ended).toEqual([{ cidr: '198.51.100.77/32', at: expect.any(String), endedAt: expect.any(String) }]);
  });
});
