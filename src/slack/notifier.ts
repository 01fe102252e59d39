/** The Notifier over Slack's Web API: the one place background messages become Slack payloads. */
import type { ChatPostEphemeralArguments, ChatPostMessageArguments, ChatUpdateArguments, KnownBlock, WebClient } from '@slack/web-api';
import type { Message, Notifier } from '../core/notifier.ts';
import { renderMessage } from '../render/blockkit.ts';
import { Mrkdwn, toMrkdwn } from '../core/text.ts';
import type { Logger } from 'pino';
import { uploadCharts } from './charts.ts';

/** Slack truncates a message's text beyond 40,000 characters; longer text is cut here, visibly. */
const MAX_TEXT = 40_000;

function payload(message: Message): { text: string; blocks?: KnownBlock[] } {
  if (typeof message === 'string' || message instanceof Mrkdwn) {
    const text = toMrkdwn(message);
    return { text: text.length <= MAX_TEXT ? text : `${text.slice(0, MAX_TEXT - 1)}…` };
  }
  const rendered = renderMessage(message);
  return { text: rendered.text, blocks: rendered.blocks };
}

/** `log` receives charts that could not be posted (the message itself is posted regardless). */
export function slackNotifier(client: WebClient, log?: Logger): Notifier {
  return {
    async post(channel, message, options = {}) {
      const args = {
        channel,
        ...payload(message),
        ...(options.threadTs ? { thread_ts: options.threadTs } : {}),
        ...(options.threadTs && options.broadcast ? { reply_broadcast: true } : {}),
        unfurl_links: Boolean(options.unfurl),
      };
      const posted = await client.chat.postMessage(args as ChatPostMessageArguments);
      if (typeof message !== 'string' && !(message instanceof Mrkdwn)) await uploadCharts(client, message, channel, options.threadTs ?? posted.ts, log);
      return posted.ts;
    },
    async update(channel, ts, message) {
      await client.chat.update({ channel, ts, ...payload(message) } as ChatUpdateArguments);
    },
    async ephemeral(channel, user, message) {
      await client.chat.postEphemeral({ channel, user, ...payload(message) } as ChatPostEphemeralArguments);
    },
    async upload(channel, file, threadTs) {
      const upload = { channel_id: channel, filename: file.filename, title: file.title, content: file.content };
      await client.files.uploadV2(threadTs ? { ...upload, thread_ts: threadTs } : upload);
    },
  };
}
