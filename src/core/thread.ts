/**
 * A job's status thread: the parent message in the channel and progress lines under it.
 * Writes are coalesced so no message is edited more than about once a second, and a 429
 * waits for Retry-After while later lines gather into one post.
 */
import type { WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import type { Reply } from './result.ts';
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

export class StatusThread {
  private pendingLines: string[] = [];
  private pendingParent?: Pick<Reply, 'summary' | 'parts'>;
  private lastWrite = 0;
  private timer?: NodeJS.Timeout;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly slack: WebClient,
    readonly channel: string,
    readonly parentTs: string,
    private readonly log: Logger,
    private readonly maxRateLimitWaitMs = 120_000,
  ) {}

  /** Adds a progress line to the thread. */
  step(text: string): Promise<void> {
    this.pendingLines.push(text);
    return this.schedule();
  }

  /** Replaces the parent message (the latest state wins when writes are coalesced). */
  updateParent(view: Pick<Reply, 'summary' | 'parts'>): Promise<void> {
    this.pendingParent = view;
    return this.schedule();
  }

  /** Posts a rendered reply into the thread at once, after pending lines. */
  async post(reply: Pick<Reply, 'summary' | 'parts' | 'attachment'>): Promise<void> {
    await this.flush();
    const rendered = renderMessage(reply);
    await this.call(() => this.slack.chat.postMessage({ channel: this.channel, thread_ts: this.parentTs, text: rendered.text, blocks: rendered.blocks }));
    const attachment = reply.attachment ?? (rendered.truncated ? { filename: 'output.txt', title: reply.summary, content: replyToText(reply) } : undefined);
    if (attachment) await this.upload(attachment);
  }

  async upload(file: { filename: string; title: string; content: string }): Promise<void> {
    await this.call(() =>
      this.slack.files.uploadV2({ channel_id: this.channel, thread_ts: this.parentTs, filename: file.filename, title: file.title, content: file.content }),
    );
  }

  /** Writes everything pending now. */
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

  private async write(): Promise<void> {
    const lines = this.pendingLines;
    this.pendingLines = [];
    const parent = this.pendingParent;
    this.pendingParent = undefined;
    if (lines.length) {
      await this.call(() => this.slack.chat.postMessage({ channel: this.channel, thread_ts: this.parentTs, text: lines.join('\n') }));
    }
    if (parent) {
      const rendered = renderMessage(parent);
      await this.call(() => this.slack.chat.update({ channel: this.channel, ts: this.parentTs, text: rendered.text, blocks: rendered.blocks }));
    }
    if (lines.length || parent) this.lastWrite = Date.now();
  }

  private call<T>(fn: () => Promise<T>): Promise<T> {
    return withRateLimit(fn, this.maxRateLimitWaitMs);
  }
}
