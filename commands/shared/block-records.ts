/**
 * Block records: who blocked what, why, until when and where, one field per network in the Redis
 * hash `<redis.prefix>:ratelimit:blocks` (`autostack:ratelimit:blocks` by default). Blocks that
 * ended (removed or expired) stay a day in the sorted set `<hash>:ended`, so a chart of the last
 * hours can mark when each one was lifted. No secrets go in here.
 */
import type { Redis } from 'ioredis';

/** Where a block is enforced: an ingress allow/deny annotation or a WAF IP set. */
export type BlockTarget =
  | { kind: 'ingress'; namespace: string; name: string }
  | { kind: 'waf'; name: string; id: string; scope: 'REGIONAL' | 'CLOUDFRONT' };

export function blocksKey(prefix: string): string {
  return `${prefix}:ratelimit:blocks`;
}

export interface BlockRecord {
  cidr: string;
  /** Slack user ID of who asked. */
  by: string;
  reason: string;
  /** ISO times. */
  at: string;
  until: string;
  target: BlockTarget;
  /** The network needed an approver's --force (private, allow-listed or very broad). */
  forced?: boolean;
  /** Channel the block was asked in (the automatic unblock reports there). */
  channel?: string;
}

/** A block that ended: when it started and when it was lifted (ISO times). */
export interface EndedBlock {
  cidr: string;
  at: string;
  endedAt: string;
}

/** As long as `ratelimit top` looks back. */
const ENDED_KEPT_MS = 24 * 3_600_000;

// Deletes the field only if it still holds the value that was read.
const DELETE_IF_UNCHANGED = `
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0`;

export class BlockRecords {
  constructor(
    private readonly redis: Redis,
    readonly key: string,
  ) {}

  async get(cidr: string): Promise<BlockRecord | undefined> {
    const raw = await this.redis.hget(this.key, cidr);
    return raw ? parse(raw) : undefined;
  }

  async all(): Promise<BlockRecord[]> {
    const raw = await this.redis.hgetall(this.key);
    return Object.values(raw)
      .map(parse)
      .filter((r): r is BlockRecord => r !== undefined)
      .sort((a, b) => a.until.localeCompare(b.until) || a.cidr.localeCompare(b.cidr));
  }

  async put(record: BlockRecord): Promise<void> {
    await this.redis.hset(this.key, record.cidr, JSON.stringify(record));
  }

  /** Puts back what was there before (or removes the field when nothing was). */
  async restore(cidr: string, previous: BlockRecord | undefined): Promise<void> {
    if (previous) await this.put(previous);
    else await this.redis.hdel(this.key, cidr);
  }

  /** Deletes the record of a block lifted at `endedAt`, keeping when it ended. */
  async delete(record: BlockRecord, endedAt: Date): Promise<boolean> {
    const deleted = (await this.redis.hdel(this.key, record.cidr)) > 0;
    if (deleted) await this.keepEnded(record, endedAt);
    return deleted;
  }

  /** Deletes the record only if it is still exactly `record` (not renewed meanwhile). */
  async deleteIfUnchanged(record: BlockRecord, endedAt: Date): Promise<boolean> {
    const deleted = (await this.redis.eval(DELETE_IF_UNCHANGED, 1, this.key, record.cidr, JSON.stringify(record))) === 1;
    if (deleted) await this.keepEnded(record, endedAt);
    return deleted;
  }

  /** Blocks that ended at or after `from`, oldest first. */
  async endedSince(from: Date): Promise<EndedBlock[]> {
    const raw = await this.redis.zrangebyscore(`${this.key}:ended`, from.getTime(), '+inf');
    return raw.map(parseEnded).filter((e): e is EndedBlock => e !== undefined);
  }

  private async keepEnded(record: BlockRecord, endedAt: Date): Promise<void> {
    const ended: EndedBlock = { cidr: record.cidr, at: record.at, endedAt: endedAt.toISOString() };
    await this.redis
      .multi()
      .zadd(`${this.key}:ended`, endedAt.getTime(), JSON.stringify(ended))
      .zremrangebyscore(`${this.key}:ended`, '-inf', endedAt.getTime() - ENDED_KEPT_MS)
      .exec();
  }
}

function parseEnded(raw: string): EndedBlock | undefined {
  try {
    const value = JSON.parse(raw) as EndedBlock;
    return typeof value.cidr === 'string' && typeof value.endedAt === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

function parse(raw: string): BlockRecord | undefined {
  try {
    const value = JSON.parse(raw) as BlockRecord;
    return typeof value.cidr === 'string' && typeof value.until === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}
