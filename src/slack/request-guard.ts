/**
 * What Bolt's HTTP receiver does not check on a signed Slack request: a timestamp in the future
 * (Bolt refuses only old ones) and a request sent again (a replay of a captured request verifies
 * for five minutes). In front of the receiver's listener, every POST to the Slack endpoint is
 * answered 401 when its timestamp is more than the tolerance away from now in either direction,
 * when its signature does not verify, or when the same signature was already accepted in the
 * window. Signatures seen are kept in this process (checked before the acknowledgement: a replay
 * to the same replica gets 401) and in Redis (SET NX with an expiry, shared by every replica).
 * The Redis check is not on the acknowledgement's path: it starts beside Bolt's handling and the
 * listeners wait for its verdict after `ack()` and before any work, so a replay accepted by
 * another replica is acknowledged here but runs nothing (see `sharedFirstSighting`). When Redis
 * does not answer in time, this process's own memory decides alone, and that is logged.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HTTPModuleFunctions, verifySlackRequest, type BufferedIncomingMessage, type Context, type HTTPReceiver } from '@slack/bolt';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Clock } from '../core/types.ts';

/** Slack's tolerance for request timestamps (the one Bolt applies to old requests). */
export const TIMESTAMP_TOLERANCE_S = 5 * 60;
/** A signature stays refused while a request carrying it could still pass the timestamp check. */
const SEEN_FOR_S = 2 * TIMESTAMP_TOLERANCE_S;
/** How long a request may wait for Redis before this process's memory decides alone. */
const REDIS_WAIT_MS = 1000;

export interface RequestGuardOptions {
  signingSecret: string;
  endpoints: readonly string[];
  redis: Redis;
  prefix: string;
  /**
   * The wall clock Slack signs with and Bolt checks against (Date.now), not the bot's business
   * clock: both checks must agree on what "now" is for a request to pass.
   */
  clock: Clock;
  log: Logger;
}

/** A passed request: the digest of its signature, when it has one (Slack's SSL check has none). */
type Verdict = { ok: true; digest?: string } | { ok: false; why: string };

/** The context property (Bolt's custom properties) carrying the Redis verdict to the listeners. */
const SHARED_VERDICT = 'sharedFirstSighting';

/**
 * Whether no other replica accepted this request first (Redis's verdict); listeners await it after
 * `ack()` and before any work. True when the request did not pass the guard's Redis check (Socket
 * Mode, the console: no signed HTTP request to replay).
 */
export function sharedFirstSighting(context: Context): Promise<boolean> {
  return (context[SHARED_VERDICT] as Promise<boolean> | undefined) ?? Promise.resolve(true);
}

export class SlackRequestGuard {
  /** Signature digest -> epoch ms after which it may be forgotten. */
  private readonly seenHere = new Map<string, number>();
  /** Requests passed to Bolt -> the Redis check started for them. */
  private readonly sharedVerdicts = new WeakMap<IncomingMessage, Promise<boolean>>();

  constructor(private readonly options: RequestGuardOptions) {}

  /** The receiver's `customPropertiesExtractor`: hands the pending Redis verdict to the listeners. */
  readonly customProperties = (req: BufferedIncomingMessage): Record<string, unknown> => {
    const verdict = this.sharedVerdicts.get(req);
    return verdict ? { [SHARED_VERDICT]: verdict } : {};
  };

  /** Puts the guard in front of the receiver's request listener. */
  install(receiver: HTTPReceiver): void {
    const inner = receiver.requestListener;
    receiver.requestListener = (req, res) => {
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      if ((req.method ?? '').toUpperCase() !== 'POST' || !this.options.endpoints.includes(path)) return inner(req, res);
      void this.screen(req, res, inner);
    };
  }

  private async screen(req: IncomingMessage, res: ServerResponse, inner: HTTPReceiver['requestListener']): Promise<void> {
    try {
      let buffered: Awaited<ReturnType<typeof HTTPModuleFunctions.bufferIncomingMessage>>;
      try {
        buffered = await HTTPModuleFunctions.bufferIncomingMessage(req, HTTPModuleFunctions.defaultBodyLimit);
      } catch (error) {
        const tooLarge = HTTPModuleFunctions.isRawBodyError(error) && (error as { statusCode: number }).statusCode === 413;
        return HTTPModuleFunctions.buildNoBodyResponse(res, tooLarge ? 413 : 400);
      }
      const verdict = this.check(buffered.rawBody.toString(), req);
      if (!verdict.ok) {
        this.options.log.warn({ why: verdict.why }, 'Slack request refused');
        return HTTPModuleFunctions.buildNoBodyResponse(res, 401);
      }
      if (verdict.digest) this.sharedVerdicts.set(buffered, this.claimShared(verdict.digest));
      // Bolt reads the body already buffered, verifies it again and handles it.
      inner(buffered, res);
    } catch (error) {
      this.options.log.error({ err: (error as Error).message }, 'Slack request screening failed');
      if (!res.headersSent) HTTPModuleFunctions.buildNoBodyResponse(res, 500);
    }
  }

  /** Everything decided without I/O: timestamp, signature, this process's memory of signatures. */
  private check(body: string, req: IncomingMessage): Verdict {
    // Slack's SSL check carries no signature; Bolt answers it and keeps nothing of its body.
    if ((req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded') && new URLSearchParams(body).get('ssl_check') === '1') return { ok: true };
    const signature = req.headers['x-slack-signature'];
    const timestamp = Number(req.headers['x-slack-request-timestamp']);
    if (typeof signature !== 'string' || !Number.isInteger(timestamp)) return { ok: false, why: 'missing signature or timestamp' };
    const nowMs = this.options.clock.now().getTime();
    const skew = timestamp - Math.floor(nowMs / 1000);
    if (skew > TIMESTAMP_TOLERANCE_S) return { ok: false, why: `timestamp ${skew} s in the future` };
    if (skew < -TIMESTAMP_TOLERANCE_S) return { ok: false, why: `timestamp ${-skew} s old` };
    try {
      verifySlackRequest({ signingSecret: this.options.signingSecret, body, headers: { 'x-slack-signature': signature, 'x-slack-request-timestamp': timestamp }, nowMilliseconds: nowMs });
    } catch {
      return { ok: false, why: 'signature mismatch' };
    }
    const digest = createHash('sha256').update(signature).digest('hex');
    return this.firstSightingHere(digest, nowMs) ? { ok: true, digest } : { ok: false, why: 'replay: signature already seen' };
  }

  /** True the first time this process sees a signature within the window. */
  private firstSightingHere(digest: string, nowMs: number): boolean {
    for (const [key, until] of this.seenHere) {
      if (until > nowMs) break;
      this.seenHere.delete(key);
    }
    if ((this.seenHere.get(digest) ?? 0) > nowMs) return false;
    this.seenHere.set(digest, nowMs + SEEN_FOR_S * 1000);
    return true;
  }

  /** True when no replica (Redis) saw the signature before; never rejects. */
  private async claimShared(digest: string): Promise<boolean> {
    const key = `${this.options.prefix}:slack:seen:${digest}`;
    let timer: NodeJS.Timeout | undefined;
    try {
      const answer = await Promise.race([
        this.options.redis.set(key, '1', 'EX', SEEN_FOR_S, 'NX'),
        new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), REDIS_WAIT_MS))),
      ]);
      if (answer === 'timeout') throw new Error(`Redis did not answer in ${REDIS_WAIT_MS} ms`);
      if (answer !== 'OK') this.options.log.warn('Slack request acknowledged but not run: another replica already accepted the same signature (replay)');
      return answer === 'OK';
    } catch (error) {
      this.options.log.warn({ err: (error as Error).message }, 'replay check: Redis unavailable; only this process remembers the signature');
      return true;
    } finally {
      clearTimeout(timer);
    }
  }
}
