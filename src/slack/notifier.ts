/** The Notifier over Slack's Web API: the one place background messages become Slack payloads. */
import type { ChatPostEphemeralArguments, ChatPostMessageArguments, ChatUpdateArguments, KnownBlock, WebClient } from '@slack/web-api';
import type { Message, Notifier } from '../core/notifier.ts';
import { renderMessage } from '../render/blockkit.ts';
import { Mrkdwn, toMrkdwn } from '../core/text.ts';
import type { Logger } from 'pino';
import { uploadCharts } from './charts.ts';

/** Slack keeps at most 250 characters of a channel topic. */
const MAX_TOPIC = 250;

/** The Web API's error code (`name_taken`, `already_in_channel`, `user_not_found`), if it is one. */
function slackError(error: unknown): string | undefined {
  return (error as { data?: { error?: string } }).data?.error;
}

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
    async direct(user, message) {
      const opened = await client.conversations.open({ users: user });
      const channel = opened.channel?.id;
      if (!channel) throw new Error(`Slack opened no DM with ${user}`);
      const posted = await client.chat.postMessage({ channel, ...payload(message), unfurl_links: false } as ChatPostMessageArguments);
      if (!posted.ts) throw new Error(`Slack returned no message ts for the DM to ${user}`);
      return { channel, ts: posted.ts };
    },
    async createChannel(name) {
      const created = await client.conversations.create({ name });
      if (!created.channel?.id) throw new Error(`conversations.create returned no channel for ${name}`);
      return created.channel.id;
    },
    async invite(channel, users) {
      if (users.length === 0) return;
      try {
        await client.conversations.invite({ channel, users: users.join(',') });
      } catch (error) {
        if (slackError(error) !== 'already_in_channel') throw error;
      }
    },
    async setTopic(channel, topic) {
      await client.conversations.setTopic({ channel, topic: topic.length <= MAX_TOPIC ? topic : `${topic.slice(0, MAX_TOPIC - 1)}…` });
    },
    async pin(channel, ts) {
      try {
        await client.pins.add({ channel, timestamp: ts });
      } catch (error) {
        if (slackError(error) !== 'already_pinned') throw error;
      }
    },
    async userName(user) {
      try {
        const found = await client.users.info({ user });
        return found.user?.profile?.display_name || found.user?.real_name || found.user?.name || undefined;
      } catch (error) {
        if (slackError(error) === 'user_not_found') return undefined;
        throw error;
      }
    },
    async groupMembers(group) {
      const found = await client.usergroups.users.list({ usergroup: group });
      return found.users ?? [];
    },
  };
}
