/**
 * Append-only audit trail: a Redis stream, optionally mirrored to an audit channel.
 */
import type { Redis } from 'ioredis';
import type { WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import type { AuditEntry, AuditLog, Clock } from './types.ts';
import { redactFields } from './redact.ts';

export interface StoredAuditEntry extends AuditEntry {
  id: string;
  at: string;
}

export class RedisAuditLog implements AuditLog {
  constructor(
    private readonly redis: Redis,
    private readonly streamKey: string,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly mirror?: { slack: WebClient; channel: string },
  ) {}

  async record(entry: AuditEntry): Promise<void> {
    const at = this.clock.now().toISOString();
    const args = entry.args ? JSON.stringify(redactFields(entry.args)) : '';
    await this.redis.xadd(this.streamKey, '*', 'at', at, 'actor', entry.actor, 'action', entry.action, 'args', args, 'result', entry.result, 'channel', entry.channel ?? '', 'detail', entry.detail ?? '');
    this.log.info({ audit: { actor: entry.actor, action: entry.action, result: entry.result } }, 'audit');
    if (this.mirror) {
      const text = `<@${entry.actor}> \`${entry.action}\` → ${entry.result}${entry.detail ? ` (${entry.detail})` : ''}`;
      await this.mirror.slack.chat.postMessage({ channel: this.mirror.channel, text }).catch((error: Error) => this.log.warn({ err: error.message }, 'audit mirror failed'));
    }
  }

  async latest(count: number): Promise<StoredAuditEntry[]> {
    const rows = await this.redis.xrevrange(this.streamKey, '+', '-', 'COUNT', count);
    return rows.map(([id, fields]) => {
      const map = new Map<string, string>();
      for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i]!, fields[i + 1]!);
      const args = map.get('args');
      return {
        id,
        at: map.get('at') ?? '',
        actor: map.get('actor') ?? '',
        action: map.get('action') ?? '',
        args: args ? (JSON.parse(args) as Record<string, unknown>) : undefined,
        result: map.get('result') ?? '',
        channel: map.get('channel') || undefined,
        detail: map.get('detail') || undefined,
      };
    });
  }
}
