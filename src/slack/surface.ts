/** The Surface over Slack's Web API (also the emulator's, in console mode and tests). */
import type { WebClient } from '@slack/web-api';
import type { RespondFn } from '@slack/bolt';
import type { Reply } from '../core/result.ts';
import type { ModalSpec, Surface } from '../core/surface.ts';
import { renderMessage, renderModal } from '../render/blockkit.ts';
import { replyToText } from '../render/text.ts';
import type { Logger } from 'pino';
import { deliverUntil, retryAfterMs, slackRetryable, withRateLimit } from '../core/thread.ts';
import { uploadCharts } from './charts.ts';

/** Interactive paths wait only briefly on a 429; the person is waiting. */
const INTERACTIVE_MAX_WAIT_MS = 3000;
/** Slack accepts posts to an interaction's response_url for 30 minutes. */
export const RESPONSE_URL_VALID_MS = 30 * 60_000;
/** Slack allows 100 blocks in a Home tab. */
const MAX_HOME_BLOCKS = 100;

export interface SlackSurfaceOptions {
  client: WebClient;
  userId: string;
  channelId: string;
  respond?: RespondFn;
  triggerId?: string;
  /** Where a reply that could not be delivered in the response_url's validity is reported. */
  log?: Logger;
}


export function slackSurface({ client, userId, channelId, respond, triggerId, log }: SlackSurfaceOptions): Surface {
  const call = <T>(fn: () => Promise<T>) => withRateLimit(fn, INTERACTIVE_MAX_WAIT_MS);
  const responseUrlValidUntil = Date.now() + RESPONSE_URL_VALID_MS;

  /**
   * Answers through the response_url. When Slack fails or cannot be reached, the answer is not
   * lost: it is posted again in the background, with backoff, while the response_url is valid.
   */
  async function respondDurably(respondFn: RespondFn, message: Parameters<RespondFn>[0]): Promise<void> {
    try {
      await call(() => respondFn(message));
    } catch (error) {
      if (!log || !slackRetryable(error)) throw error;
      log.warn({ err: (error as Error).message, retryAfterMs: retryAfterMs(error) }, 'reply to an interaction not accepted; retrying while its response_url is valid');
      void deliverUntil(() => respondFn(message), responseUrlValidUntil, log, 'interactive reply');
    }
  }

  async function attach(reply: Reply, channel: string, threadTs?: string): Promise<void> {
    const rendered = renderMessage(reply);
    const file = reply.attachment ?? (rendered.truncated ? { filename: 'output.txt', title: reply.summary, content: replyToText(reply) } : undefined);
    if (!file) return;
    const upload = { channel_id: channel, filename: file.filename, title: file.title, content: file.content };
    await call(() => client.files.uploadV2(threadTs ? { ...upload, thread_ts: threadTs } : upload));
  }

  return {
    async ephemeral(reply) {
      const rendered = renderMessage(reply);
      if (respond) {
        await respondDurably(respond, { response_type: 'ephemeral', replace_original: false, text: rendered.text, blocks: rendered.blocks });
      } else {
        await call(() => client.chat.postEphemeral({ channel: channelId, user: userId, text: rendered.text, blocks: rendered.blocks }));
      }
      // A file cannot be ephemeral: long output goes to the channel for the asker to open.
      await attach(reply, channelId);
    },
    async post(channel, reply, threadTs) {
      const rendered = renderMessage(reply);
      const posted = await call(() => client.chat.postMessage({ channel, text: rendered.text, blocks: rendered.blocks, ...(threadTs ? { thread_ts: threadTs } : {}) }));
      await attach(reply, channel, threadTs ?? posted.ts);
      // Files cannot be ephemeral: charts go only with replies posted for the channel.
      await uploadCharts(client, reply, channel, threadTs ?? posted.ts, log, call);
      return posted.ts;
    },
    async update(channel, ts, reply) {
      const rendered = renderMessage(reply);
      await call(() => client.chat.update({ channel, ts, text: rendered.text, blocks: rendered.blocks }));
    },
    async publishHome(homeUser, reply) {
      const rendered = renderMessage(reply, MAX_HOME_BLOCKS);
      await call(() => client.views.publish({ user_id: homeUser, view: { type: 'home', blocks: rendered.blocks } }));
    },
    inChannel(channel) {
      return slackSurface({ client, userId, channelId: channel, triggerId, log });
    },
    async openModal(modal: ModalSpec) {
      if (!triggerId) throw new Error('a modal needs an interaction trigger');
      await call(() => client.views.open({ trigger_id: triggerId, view: renderModal(modal) as never }));
    },
  };
}
