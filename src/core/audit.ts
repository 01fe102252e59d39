/**
 * Append-only audit trail: a Redis stream, optionally mirrored to an audit channel.
 *
 * While Redis cannot be written, entries go to a local spool (a JSON-lines file, bounded) and are
 * written to the stream, in order and before any newer entry, as soon as Redis accepts writes
 * again. An entry keeps the time it happened (`at`); its stream ID is the time it was written.
 */
import { appendFile, mkdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import type { Notifier } from './notifier.ts';
import { md, mention } from './text.ts';
import type { Logger } from 'pino';
import type { AuditEntry, AuditLog, AuditWritten, Clock } from './types.ts';
import { redactFields } from './redact.ts';

export interface StoredAuditEntry extends AuditEntry {
  id: string;
  at: string;
}

/** The spool never grows past this; an entry that does not fit is reported as not written. */
export const MAX_SPOOL_BYTES = 16 * 1024 * 1024;

/** Entries waiting for Redis, one JSON array of stream fields per line, oldest first. */
export class AuditSpool {
  readonly file: string;

  constructor(
    private readonly dir: string,
    name: string,
    private readonly maxBytes = MAX_SPOOL_BYTES,
  ) {
    this.file = join(dir, `${name.replace(/[^A-Za-z0-9_.-]/g, '_')}.jsonl`);
  }

  /** Appends one entry; false when the spool is full or cannot be written. */
  async append(fields: string[]): Promise<boolean> {
    const line = `${JSON.stringify(fields)}\n`;
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      const size = await stat(this.file).then((s) => s.size, () => 0);
      if (size + Buffer.byteLength(line) > this.maxBytes) return false;
      await appendFile(this.file, line, { mode: 0o600 });
      return true;
    } catch {
      return false;
    }
  }

  /** Spooled entries, oldest first. */
  async entries(): Promise<string[][]> {
    const text = await readFile(this.file, 'utf8').catch(() => '');
    return text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as string[]);
  }

  /** Keeps only the entries not yet written (atomically: a crash leaves the old or the new file). */
  async keep(rest: string[][]): Promise<void> {
    if (!rest.length) {
      await unlink(this.file).catch(() => undefined);
      return;
    }
    const next = `${this.file}.next`;
    await writeFile(next, rest.map((f) => `${JSON.stringify(f)}\n`).join(''), { mode: 0o600 });
    await rename(next, this.file);
  }
}

export class RedisAuditLog implements AuditLog {
  /** Writes one at a time, so spooled entries always reach the stream before newer ones. */
  private chain: Promise<unknown> = Promise.resolve();
  /** Entries may wait in the spool (true at first: an earlier run may have left some). */
  private spooled = true;

  constructor(
    private readonly redis: Redis,
    private readonly streamKey: string,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly mirror?: { notify: Notifier; channel: string },
    private readonly spool?: AuditSpool,
  ) {
    // Entries left by an earlier run, or spooled during an outage, go out once Redis is back.
    redis.on('ready', () => void this.flush());
  }

  async record(entry: AuditEntry): Promise<AuditWritten> {
    const at = this.clock.now().toISOString();
    const args = entry.args ? JSON.stringify(redactFields(entry.args)) : '';
    const fields = ['at', at, 'actor', entry.actor, 'action', entry.action, 'args', args, 'result', entry.result, 'channel', entry.channel ?? '', 'detail', entry.detail ?? ''];
    const written = await this.serial(() => this.write(fields));
    this.log.info({ audit: { actor: entry.actor, action: entry.action, result: entry.result } }, 'audit');
    if (this.mirror) {
      const text = md`${mention(entry.actor)} \`${entry.action}\` → ${entry.result}${entry.detail ? md` (${entry.detail})` : ''}`;
      await this.mirror.notify.post(this.mirror.channel, text).catch((error: Error) => this.log.warn({ err: error.message }, 'audit mirror failed'));
    }
    return written;
  }

  /** Writes what the spool holds, in order; stops at the first failure (the rest stays spooled). */
  flush(): Promise<void> {
    return this.serial(async () => {
      await this.drain();
    }).catch((error: Error) => this.log.warn({ err: error.message }, 'audit spool flush failed'));
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.chain.then(work);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async drain(): Promise<void> {
    if (!this.spool || !this.spooled) return;
    const pending = await this.spool.entries();
    let done = 0;
    try {
      for (const fields of pending) {
        await this.redis.xadd(this.streamKey, '*', ...fields);
        done++;
      }
    } finally {
      if (done) await this.spool.keep(pending.slice(done));
    }
    this.spooled = false;
    if (done) this.log.info({ entries: done }, 'audit: spooled entries written');
  }

  private async write(fields: string[]): Promise<AuditWritten> {
    try {
      await this.drain();
      await this.redis.xadd(this.streamKey, '*', ...fields);
      return 'stored';
    } catch (error) {
      if (this.spool && (await this.spool.append(fields))) {
        this.spooled = true;
        this.log.warn({ err: (error as Error).message }, 'audit: Redis unavailable, entry spooled locally');
        return 'spooled';
      }
      throw new Error(`the audit entry could not be written (${(error as Error).message}) nor spooled locally`);
    }
  }

  async latest(count: number): Promise<StoredAuditEntry[]> {
    const rows = await this.redis.xrevrange(this.streamKey, '+', '-', 'COUNT', count);
    return rows.map(storedEntry);
  }
}

/** The audit stream's key under a Redis prefix. */
export function auditStreamKey(prefix: string): string {
  return `${prefix}:audit`;
}

/**
 * Entries written to the stream between two times, oldest first, at most `limit`. Stream IDs are
 * write times: an entry spooled during a Redis outage shows its own `at` but is found by when it
 * reached the stream.
 */
export async function auditEntriesBetween(redis: Redis, prefix: string, from: Date, to: Date, limit: number): Promise<StoredAuditEntry[]> {
  const rows = await redis.xrange(auditStreamKey(prefix), String(from.getTime()), String(to.getTime()), 'COUNT', limit);
  return rows.map(storedEntry);
}

function storedEntry([id, fields]: [string, string[]]): StoredAuditEntry {
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
}
