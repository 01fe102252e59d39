/**
 * The real job system (BullMQ queue + workers + status threads) wired to the test services and the
 * Slack emulator, as a replica of the bot runs it.
 */
import { WebClient } from '@slack/web-api';
import { Queue } from 'bullmq';
import type { Job } from 'bullmq';
import { parseConfig } from '../../src/config.ts';
import type { Config } from '../../src/config.ts';
import { createClients } from '../../src/clients.ts';
import { JobSystem, QUEUE_NAME } from '../../src/core/jobs.ts';
import { createSecretBox, randomSecretKey } from '../../src/core/secrets.ts';
import type { AuditEntry, CommandContext, JobDefinition } from '../../src/core/types.ts';
import { createLogger } from '../../src/logger.ts';
import { createMetrics } from '../../src/metrics.ts';
import { EMULATOR_DEFAULTS, SlackEmulator } from '../../dev/slack-emulator/index.ts';
import { redisConnection, testServices } from '../harness/env.ts';
import { slackNotifier } from '../../src/slack/notifier.ts';

export const OPS = 'C0OPS00001';
export const INCIDENT = 'C0INC00001';

export function backupConfig(options: { databaseUrl: string; bucket: string; prefix?: string; retentionDays?: number; keepAtLeast?: number }): Config {
  return parseConfig({
    aws: { endpoint: testServices().awsEndpoint, region: 'us-east-1', s3ForcePathStyle: true },
    database: { url: options.databaseUrl, binDir: testServices().postgres.binDir },
    backup: { bucket: options.bucket, prefix: options.prefix ?? 'db/', retentionDays: options.retentionDays ?? 30, keepAtLeast: options.keepAtLeast ?? 7 },
    channels: { ops: OPS, incident: INCIDENT },
  });
}

export async function startSlack(): Promise<SlackEmulator> {
  const slack = await new SlackEmulator({ autoCreateChannels: true }).start();
  slack.addChannel(OPS, 'ops');
  slack.addChannel(INCIDENT, 'incident');
  return slack;
}

export interface Replica {
  system: JobSystem;
  audits: AuditEntry[];
}

/** One bot replica's job system; `prefix` shared by replicas of one deployment. */
export async function startReplica(options: { config: Config; slack: SlackEmulator; prefix: string; jobs: JobDefinition<unknown>[] }): Promise<Replica> {
  const web = new WebClient(EMULATOR_DEFAULTS.botToken, { slackApiUrl: options.slack.apiUrl, retryConfig: { retries: 0 } });
  const audits: AuditEntry[] = [];
  const system = new JobSystem({
    redisUrl: testServices().redisUrl,
    prefix: options.prefix,
    jobs: new Map(options.jobs.map((j) => [j.name, j])),
    config: options.config,
    clients: createClients(options.config, redisConnection(), slackNotifier(web)),
    secrets: createSecretBox(randomSecretKey()),
    audit: { record: async (entry) => (audits.push(entry), 'stored') },
    log: createLogger('silent'),
    metrics: createMetrics(),
  });
  await system.runWorkers(2);
  return { system, audits };
}

export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 45_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function finished(system: JobSystem, id: string): Promise<Job> {
  return waitFor(`job ${id} to finish`, async () => {
    const job = await system.queue.getJob(id);
    return job && job.finishedOn ? job : undefined;
  });
}

/** A queue handle of its own (for reading jobs after the replicas closed). */
export function queueOf(prefix: string): Queue {
  return new Queue(QUEUE_NAME, { connection: redisConnection(), prefix: `{${prefix}}` });
}

/** A CommandContext on the real clients; `jobs` is a replica's job system. */
export function commandContext(options: { config: Config; slack: SlackEmulator; jobs: JobSystem; actor?: string; channel?: string }): CommandContext {
  const web = new WebClient(EMULATOR_DEFAULTS.botToken, { slackApiUrl: options.slack.apiUrl, retryConfig: { retries: 0 } });
  return {
    actor: { id: options.actor ?? 'U0OPER0001', role: 'operator' },
    channel: options.channel ?? OPS,
    config: options.config,
    clients: createClients(options.config, redisConnection(), slackNotifier(web)),
    jobs: options.jobs,
    audit: { record: async () => 'stored' },
    secrets: createSecretBox(randomSecretKey()),
    log: createLogger('silent'),
  };
}
