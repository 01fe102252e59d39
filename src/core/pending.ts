/**
 * Pending confirmations and approvals in Redis. Deciding is one atomic step, so two approvers
 * clicking at once, or one button clicked twice, gives exactly one decision.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

export type PendingKind = 'approval' | 'confirm';
export type PendingStatus = 'pending' | 'approved' | 'rejected' | 'expired' | 'superseded' | 'closed';

export interface PendingRequest {
  id: string;
  kind: PendingKind;
  verb: string;
  /** The parsed parameters, sealed: they may hold values that must not sit in Redis in clear. */
  sealedParams: string;
  planHash: string;
  /** The plan as shown (JSON), kept to redraw the message once decided. */
  plan: string;
  requester: string;
  channel: string;
  createdAt: number;
  expiresAt: number;
  status: PendingStatus;
  decidedBy?: string;
  decidedAt?: number;
  messageTs?: string;
  /** Who was asked, as Slack mentions (user groups and users). */
  asked?: string;
  /** The DMs that carry the same request (JSON [{channel, ts}]). */
  dms?: string;
  /** A line shown above the request (e.g. why the bot asked again). */
  note?: string;
  /** When the escalation group was mentioned (once). */
  escalatedAt?: number;
  /** Why a request that can no longer run was closed. */
  closedReason?: string;
  /** The requester ran it alone (break glass) with this reason. */
  breakGlass?: string;
}

export type DecideOutcome = 'ok' | 'expired' | 'missing' | Exclude<PendingStatus, 'pending'>;

const DECIDE = `
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'missing' end
if status ~= 'pending' then return status end
if tonumber(ARGV[3]) > tonumber(redis.call('HGET', KEYS[1], 'expiresAt')) then
  redis.call('HSET', KEYS[1], 'status', 'expired')
  return 'expired'
end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'decidedBy', ARGV[2], 'decidedAt', ARGV[3])
return 'ok'
`;

export class PendingStore {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
  ) {}

  private key(id: string): string {
    return `${this.keyPrefix}:pending:${id}`;
  }

  async create(request: Omit<PendingRequest, 'id' | 'status'>): Promise<PendingRequest> {
    const stored: PendingRequest = { ...request, id: randomUUID().replace(/-/g, '').slice(0, 16), status: 'pending' };
    const key = this.key(stored.id);
    await this.redis
      .multi()
      .hset(key, toHash(stored))
      // Kept a day past expiry so a late click is told "expired", not "unknown".
      .pexpireat(key, stored.expiresAt + 86_400_000)
      .exec();
    return stored;
  }

  async get(id: string): Promise<PendingRequest | undefined> {
    if (!/^[a-f0-9]{16}$/.test(id)) return undefined;
    const hash = await this.redis.hgetall(this.key(id));
    return hash.id ? fromHash(hash) : undefined;
  }

  /** Requests still waiting for a decision and not expired, oldest first (a SCAN of the pending keys). */
  async open(now: number, kind?: PendingKind): Promise<PendingRequest[]> {
    const found: PendingRequest[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${this.keyPrefix}:pending:*`, 'COUNT', 200);
      cursor = next;
      for (const key of keys) {
        const hash = await this.redis.hgetall(key);
        if (!hash.id) continue;
        const request = fromHash(hash);
        if (request.status === 'pending' && request.expiresAt > now && (!kind || request.kind === kind)) found.push(request);
      }
    } while (cursor !== '0');
    return found.sort((a, b) => a.createdAt - b.createdAt);
  }

  async setMessage(id: string, ts: string): Promise<void> {
    await this.redis.hset(this.key(id), 'messageTs', ts);
  }

  /** Atomically moves a pending request to `status`; anything but 'ok' means someone else decided first. */
  async decide(id: string, status: 'approved' | 'rejected' | 'superseded' | 'expired' | 'closed', by: string, at: number): Promise<DecideOutcome> {
    return (await this.redis.eval(DECIDE, 1, this.key(id), status, by, String(at))) as DecideOutcome;
  }

  /** Sets extra fields of a request (its DMs, a closing reason, a break-glass reason). */
  async annotate(id: string, fields: Partial<Pick<PendingRequest, 'dms' | 'closedReason' | 'breakGlass' | 'asked'>>): Promise<void> {
    const hash = toHash(fields as PendingRequest);
    if (Object.keys(hash).length) await this.redis.hset(this.key(id), hash);
  }

  /** Marks the request escalated; false when it already was (so it escalates once). */
  async markEscalated(id: string, at: number): Promise<boolean> {
    return (await this.redis.hsetnx(this.key(id), 'escalatedAt', String(at))) === 1;
  }
}

function toHash(request: PendingRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(request)) if (value !== undefined) out[key] = String(value);
  return out;
}

function fromHash(hash: Record<string, string>): PendingRequest {
  return {
    id: hash.id!,
    kind: hash.kind as PendingKind,
    verb: hash.verb!,
    sealedParams: hash.sealedParams!,
    planHash: hash.planHash!,
    plan: hash.plan ?? '{"title":"","steps":[],"resources":[]}',
    requester: hash.requester!,
    channel: hash.channel!,
    createdAt: Number(hash.createdAt),
    expiresAt: Number(hash.expiresAt),
    status: hash.status as PendingStatus,
    decidedBy: hash.decidedBy,
    decidedAt: hash.decidedAt ? Number(hash.decidedAt) : undefined,
    messageTs: hash.messageTs,
    asked: hash.asked,
    dms: hash.dms,
    note: hash.note,
    escalatedAt: hash.escalatedAt ? Number(hash.escalatedAt) : undefined,
    closedReason: hash.closedReason,
    breakGlass: hash.breakGlass,
  };
}
