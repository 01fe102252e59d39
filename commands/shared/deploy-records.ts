/**
 * Deployment records: who deployed what, from which image and revision to which, the result and
 * how long it took. Kept in Redis as a capped list (newest first) for `deploy history` and the
 * Home tab, plus monotonic counters (a hash) that the metrics endpoint exposes, so totals survive
 * the list's cap, restarts and several bot replicas. No secrets go in here.
 */
import type { Redis } from 'ioredis';

export type DeployResult = 'succeeded' | 'rolled_back' | 'failed';
export const DEPLOY_RESULTS: readonly DeployResult[] = ['succeeded', 'rolled_back', 'failed'];

/** Records kept in the list; older ones are trimmed (the counters keep counting). */
export const MAX_RECORDS = 500;

export interface DeployRecord {
  jobId: string;
  app: string;
  deployment: string;
  /** Slack user ID of who asked. */
  by: string;
  reason: string;
  from: { image: string; revision?: number };
  to: { image: string; tag: string; revision?: number };
  result: DeployResult;
  /** Why it failed, and the state it left (for rolled_back and failed). */
  detail?: string;
  /** Set when the automatic rollback ran: where it went and whether it completed. */
  rollback?: { toRevision?: number; image: string; completed: boolean };
  migration?: 'succeeded' | 'failed' | 'skipped';
  health?: 'ok' | 'failed' | 'not configured' | 'not reached';
  smoke: { passed: number; failed: number };
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  channel?: string;
  threadTs?: string;
}

export function recordsKey(prefix: string): string {
  return `${prefix}:deploy:records`;
}

export function countersKey(prefix: string): string {
  return `${prefix}:deploy:counters`;
}

/** Counter fields: `<name>|<app>[|<label>]`. App names are DNS labels, so "|" never occurs in them. */
export const counterField = {
  deployments: (app: string, result: DeployResult) => `deployments|${app}|${result}`,
  rollbacks: (app: string) => `rollbacks|${app}`,
  durationSum: (app: string) => `duration_ms_sum|${app}`,
  durationCount: (app: string) => `duration_count|${app}`,
  smoke: (app: string, outcome: 'passed' | 'failed') => `smoke|${app}|${outcome}`,
};

export class DeployRecords {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  /** Appends the record and bumps the counters in one transaction. */
  async add(record: DeployRecord): Promise<void> {
    const counters = countersKey(this.prefix);
    const tx = this.redis
      .multi()
      .lpush(recordsKey(this.prefix), JSON.stringify(record))
      .ltrim(recordsKey(this.prefix), 0, MAX_RECORDS - 1)
      .hincrby(counters, counterField.deployments(record.app, record.result), 1)
      .hincrby(counters, counterField.durationSum(record.app), Math.round(record.durationMs))
      .hincrby(counters, counterField.durationCount(record.app), 1);
    if (record.rollback) tx.hincrby(counters, counterField.rollbacks(record.app), 1);
    if (record.smoke.passed) tx.hincrby(counters, counterField.smoke(record.app, 'passed'), record.smoke.passed);
    if (record.smoke.failed) tx.hincrby(counters, counterField.smoke(record.app, 'failed'), record.smoke.failed);
    const results = await tx.exec();
    const failed = results?.find(([error]) => error);
    if (failed) throw failed[0]!;
  }

  /** Newest first, optionally of one app. */
  async recent(limit: number, app?: string): Promise<DeployRecord[]> {
    const raw = await this.redis.lrange(recordsKey(this.prefix), 0, app ? MAX_RECORDS - 1 : limit - 1);
    const out: DeployRecord[] = [];
    for (const item of raw) {
      const record = parseRecord(item);
      if (!record || (app && record.app !== app)) continue;
      out.push(record);
      if (out.length >= limit) break;
    }
    return out;
  }

  async counters(): Promise<Record<string, number>> {
    const raw = await this.redis.hgetall(countersKey(this.prefix));
    return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, Number(v)]));
  }
}

function parseRecord(raw: string): DeployRecord | undefined {
  try {
    const value = JSON.parse(raw) as DeployRecord;
    return typeof value?.app === 'string' && typeof value.result === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

export function deployRecords(redis: Redis, prefix: string): DeployRecords {
  return new DeployRecords(redis, prefix);
}
