/**
 * Break glass: an on-call operator runs an approval-guarded action alone (where
 * approvals.verbs.<verb>.breakGlass allows it) after typing a reason and the target's name. Each
 * use opens a review that someone other than the requester with the approver role must
 * acknowledge; it is reminded every approvals.breakGlass.remindEvery until then.
 */
import type { Redis } from 'ioredis';
import type { JobDefinition } from './types.ts';
import { reply } from './result.ts';

export const BREAK_GLASS_REMINDER_JOB = 'break-glass-reminder';

export interface BreakGlassReview {
  /** The approval request's id. */
  id: string;
  verb: string;
  requester: string;
  reason: string;
  channel: string;
  at: number;
  messageTs?: string;
  reminders: number;
  acknowledgedBy?: string;
  acknowledgedAt?: number;
}

const ACK = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 'missing' end
local by = redis.call('HGET', KEYS[1], 'acknowledgedBy')
if by then return by end
redis.call('HSET', KEYS[1], 'acknowledgedBy', ARGV[1], 'acknowledgedAt', ARGV[2])
return 'ok'
`;

export class BreakGlassReviews {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
  ) {}

  private key(id: string): string {
    return `${this.keyPrefix}:breakglass:${id}`;
  }

  private get index(): string {
    return `${this.keyPrefix}:breakglass`;
  }

  async open(review: Omit<BreakGlassReview, 'reminders'>): Promise<void> {
    const fields: Record<string, string> = { id: review.id, verb: review.verb, requester: review.requester, reason: review.reason, channel: review.channel, at: String(review.at), reminders: '0' };
    await this.redis.multi().hset(this.key(review.id), fields).zadd(this.index, review.at, review.id).exec();
  }

  async setMessage(id: string, ts: string): Promise<void> {
    await this.redis.hset(this.key(id), 'messageTs', ts);
  }

  async reminded(id: string): Promise<number> {
    return this.redis.hincrby(this.key(id), 'reminders', 1);
  }

  /** 'ok' for the first acknowledgement; otherwise who acknowledged first, or 'missing'. */
  async acknowledge(id: string, by: string, at: number): Promise<string> {
    if (!/^[a-f0-9]{16}$/.test(id)) return 'missing';
    return (await this.redis.eval(ACK, 1, this.key(id), by, String(at))) as string;
  }

  async get(id: string): Promise<BreakGlassReview | undefined> {
    if (!/^[a-f0-9]{16}$/.test(id)) return undefined;
    const h = await this.redis.hgetall(this.key(id));
    if (!h.id) return undefined;
    return {
      id: h.id,
      verb: h.verb ?? '',
      requester: h.requester ?? '',
      reason: h.reason ?? '',
      channel: h.channel ?? '',
      at: Number(h.at),
      messageTs: h.messageTs,
      reminders: Number(h.reminders ?? 0),
      acknowledgedBy: h.acknowledgedBy,
      acknowledgedAt: h.acknowledgedAt ? Number(h.acknowledgedAt) : undefined,
    };
  }

  /** The latest reviews, newest first. */
  async latest(limit: number): Promise<BreakGlassReview[]> {
    const ids = await this.redis.zrevrange(this.index, 0, limit - 1);
    const reviews = await Promise.all(ids.map((id) => this.get(id)));
    return reviews.filter((r): r is BreakGlassReview => r !== undefined);
  }
}

/** The delayed job that reminds an unacknowledged review and schedules the next reminder. */
export function breakGlassReminderJob(remind: (id: string, n: number) => Promise<void>): JobDefinition<{ id: string; n: number }> {
  return {
    name: BREAK_GLASS_REMINDER_JOB,
    title: (data) => `Remind break-glass review ${data.id}`,
    async process(run) {
      await remind(run.data.id, run.data.n);
      return reply(`break-glass review ${run.data.id} checked for reminder ${run.data.n}`);
    },
  };
}
