/**
 * A job's status thread: the parent message in the channel and progress lines under it.
 * Writes are coalesced so no message is edited more than about once a second. Progress lines go
 * through an outbox (a Redis list per job) and are delivered in order, retried after Retry-After
 * on 429 and with backoff on 5xx or a refused connection, until Slack accepts them or the give-up
 * time passes (then they are listed in `undelivered`); the job never waits for them. An answer no
 * retry changes (the parent message is gone, the bot is not in the channel) is not retried. The
 * parent's ts may still be on its way (a promise): writes wait for it, and without a parent what
 * would have gone into the thread is listed in `undelivered`.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Reply } from './result.ts';
import type { Notifier } from './notifier.ts';
import type { Text } from './text.ts';
import { storedMrkdwn, toMrkdwn } from './text.ts';
import { renderMessage } from '../render/blockkit.ts';
import { replyToText } from '../render/text.ts';

const MIN_INTERVAL_MS = 1000;

interface RateLimitedError {
  code?: string;
  retryAfter?: number;
}

/** Bolt's respond() error: the status only, not Slack's Retry-After. */
interface RespondError {
  statusCode?: number;
}

/** Slack's shortest Retry-After, assumed when the error does not carry one. */
const DEFAULT_RETRY_AFTER_MS = 1000;

/** How long Slack asked us to wait: Web API calls (WebClient) and response_url posts (HTTP 429). */
export function retryAfterMs(error: unknown): number | undefined {
  const e = error as RateLimitedError & RespondError;
  if (e?.code === 'slack_webapi_rate_limited_error' && typeof e.retryAfter === 'number') return e.retryAfter * 1000;
  if (e?.statusCode === 429) return DEFAULT_RETRY_AFTER_MS;
  return undefined;
}

/** Calls Slack; on 429 waits Retry-After (up to `maxWaitMs`) and tries again. */
export async function withRateLimit<T>(call: () => Promise<T>, maxWaitMs: number, sleep = defaultSleep): Promise<T> {
  let waited = 0;
  for (;;) {
    try {
      return await call();
    } catch (error) {
      const wait = retryAfterMs(error);
      if (wait === undefined || waited + wait > maxWaitMs) throw error;
      waited += wait;
      await sleep(wait);
    }
  }
}

function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Slack's answers that mean "try again later"; every other `ok: false` error never gets better. */
const TRANSIENT_SLACK_ERRORS = new Set(['internal_error', 'fatal_error', 'service_unavailable', 'request_timeout', 'ratelimited']);

/**
 * Worth another try: a rate limit, a 5xx, a transient Slack error, or no answer at all (refused,
 * reset, timed out). Slack refusing the write itself (message_not_found, channel_not_found,
 * not_in_channel, invalid_auth, a 404 from a response_url, ...) is final.
 */
export function slackRetryable(error: unknown): boolean {
  const e = error as { code?: unknown; statusCode?: unknown; data?: { error?: unknown } };
  if (e?.code === 'slack_webapi_platform_error') return TRANSIENT_SLACK_ERRORS.has(String(e.data?.error));
  if (typeof e?.statusCode === 'number') return e.statusCode === 429 || e.statusCode >= 500;
  return true;
}

/**
 * Calls Slack until it accepts: after Retry-After on 429, with growing backoff (1 s doubling to
 * 30 s) on other transient failures. False when Slack refused the write for good, or it still
 * failed at `giveUpAt`.
 */
export async function deliverUntil(
  fn: () => Promise<unknown>,
  giveUpAt: number,
  log: Logger,
  what: string,
  retryable: (error: unknown) => boolean = slackRetryable,
): Promise<boolean> {
  let backoff = 1000;
  for (;;) {
    try {
      await fn();
      return true;
    } catch (error) {
      const wait = retryAfterMs(error) ?? backoff;
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      if (!retryable(error)) {
        log.warn({ err: (error as Error).message }, `${what}: Slack refused a write; not retried`);
        return false;
      }
      if (Date.now() + wait > giveUpAt) {
        log.warn({ err: (error as Error).message }, `${what}: Slack did not accept a write in time; given up`);
        return false;
      }
      await defaultSleep(wait);
    }
  }
}

/** How long a line or update is retried before it is given up (and the job's record lists it). */
export const DELIVERY_GIVE_UP_MS = 15 * 60_000;
const MAX_BACKOFF_MS = 30_000;

/** The durable copy of a thread's pending lines: a Redis list, in order, trimmed as Slack accepts them. */
export interface ThreadOutbox {
  redis: Redis;
  key: string;
}

export interface StatusThreadOptions {
  /** Longest wait for one 429's Retry-After on interactive posts (default 120 s). */
  maxRateLimitWaitMs?: number;
  outbox?: ThreadOutbox;
  /** Retry a failing delivery this long before giving it up (default DELIVERY_GIVE_UP_MS). */
  giveUpAfterMs?: number;
}

export class StatusThread {
  private pendingLines: string[] = [];
  private pendingParent?: Pick<Reply, 'summary' | 'parts'>;
  private lastWrite = 0;
  private timer?: NodeJS.Timeout;
  private chain: Promise<void> = Promise.resolve();
  /** Redis writes of the outbox, in order. */
  private outboxChain: Promise<void> = Promise.resolve();
  private leftoversLoaded = false;
  /** Lines Slack never accepted within the give-up time. */
  readonly undelivered: string[] = [];
  private readonly parent: Promise<string | undefined>;

  constructor(
    private readonly notify: Notifier,
    readonly channel: string,
    parentTs: string | Promise<string | undefined>,
    private readonly log: Logger,
    private readonly options: StatusThreadOptions = {},
  ) {
    this.parent = Promise.resolve(parentTs);
  }

  /** Adds a progress line to the thread; never waits for Slack. Kept as the mrkdwn Slack receives (escaped). */
  step(line: Text): void {
    const text = toMrkdwn(line);
    this.pendingLines.push(text);
    this.outboxWrite((outbox) => outbox.redis.multi().rpush(outbox.key, text).pexpire(outbox.key, 7 * 86_400_000).exec());
    void this.schedule();
  }

  /** Replaces the parent message (the latest state wins when writes are coalesced). */
  updateParent(view: Pick<Reply, 'summary' | 'parts'>): Promise<void> {
    this.pendingParent = view;
    return this.schedule();
  }

  /** Posts a rendered reply into the thread at once, after pending lines. */
  async post(reply: Pick<Reply, 'summary' | 'parts' | 'attachment'>): Promise<void> {
    await this.flush();
    const threadTs = await this.parent;
    if (!threadTs) {
      this.undelivered.push(reply.summary);
      return;
    }
    await this.call(() => this.notify.post(this.channel, reply, { threadTs }));
    const attachment = reply.attachment ?? (renderMessage(reply).truncated ? { filename: 'output.txt', title: reply.summary, content: replyToText(reply) } : undefined);
    if (attachment) await this.upload(attachment);
  }

  async upload(file: { filename: string; title: string; content: string }): Promise<void> {
    const threadTs = await this.parent;
    if (threadTs) await this.call(() => this.notify.upload(this.channel, file, threadTs));
    else this.undelivered.push(`(file not posted: ${file.filename})`);
  }

  /** Writes everything pending now; resolves once Slack accepted it or it was given up. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.chain = this.chain.then(() => this.write()).catch((error: Error) => this.log.warn({ err: error.message }, 'status thread write failed'));
    return this.chain;
  }

  private schedule(): Promise<void> {
    if (this.timer) return this.chain;
    const wait = Math.max(0, this.lastWrite + MIN_INTERVAL_MS - Date.now());
    if (wait === 0) return this.flush();
    this.timer = setTimeout(() => void this.flush(), wait);
    return this.chain;
  }

  private outboxWrite(write: (outbox: ThreadOutbox) => Promise<unknown>): Promise<void> {
    const outbox = this.options.outbox;
    if (!outbox) return Promise.resolve();
    this.outboxChain = this.outboxChain.then(() => write(outbox)).then(
      () => undefined,
      (error: Error) => this.log.warn({ err: error.message }, 'thread outbox write failed (the lines are still delivered from memory)'),
    );
    return this.outboxChain;
  }

  /** Lines a worker that stopped left in the outbox go first. */
  private async loadLeftovers(): Promise<void> {
    if (this.leftoversLoaded || !this.options.outbox) return;
    this.leftoversLoaded = true;
    const { redis, key } = this.options.outbox;
    await this.outboxChain;
    const stored = await redis.lrange(key, 0, -1).catch(() => [] as string[]);
    const mine = this.pendingLines.length;
    const leftovers = stored.slice(0, Math.max(0, stored.length - mine));
    if (leftovers.length) this.pendingLines.unshift(...leftovers);
  }

  private async write(): Promise<void> {
    const threadTs = await this.parent;
    await this.loadLeftovers();
    const lines = this.pendingLines.slice();
    if (lines.length) {
      const posted = threadTs !== undefined && (await this.deliver(() => this.notify.post(this.channel, storedMrkdwn(lines.join('\n')), { threadTs })));
      this.pendingLines.splice(0, lines.length);
      if (!posted) this.undelivered.push(...lines);
      await this.outboxWrite((outbox) => outbox.redis.ltrim(outbox.key, lines.length, -1));
    }
    // Lines added while the posts were retried go out before the parent changes.
    if (this.pendingLines.length) return this.write();
    const parent = this.pendingParent;
    this.pendingParent = undefined;
    if (parent && threadTs) {
      await this.deliver(() => this.notify.update(this.channel, threadTs, parent));
    }
    if (lines.length || parent) this.lastWrite = Date.now();
  }

  /** Calls Slack until it accepts or the give-up time passes (then false, and logged). */
  private async deliver(fn: () => Promise<unknown>): Promise<boolean> {
    const giveUpAt = Date.now() + (this.options.giveUpAfterMs ?? DELIVERY_GIVE_UP_MS);
    return deliverUntil(fn, giveUpAt, this.log, 'status thread');
  }

  private call<T>(fn: () => Promise<T>): Promise<T> {
    return withRateLimit(fn, this.options.maxRateLimitWaitMs ?? 120_000);
  }
}
