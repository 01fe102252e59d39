/**
 * The port for background writes to the chat (job threads, pages, reminders, notices, incident
 * channels) and the few directory reads they need (names, group members): what commands and jobs
 * use instead of a Web API client. Every message is a neutral `Reply` or a
 * `Text` (src/core/text.ts), so whatever it carries is escaped on the way out. Calls fail as the
 * transport fails (the caller decides whether to retry: `withRateLimit`, `deliverUntil`).
 */
import type { Attachment, Reply } from './result.ts';
import type { Text } from './text.ts';

export type Message = Text | Pick<Reply, 'summary' | 'parts'>;

export interface PostOptions {
  /** Reply in this thread. */
  threadTs?: string;
  /** A thread reply also shown in the channel. */
  broadcast?: boolean;
  /** Unfurl links (off unless asked). */
  unfurl?: boolean;
}

export interface Notifier {
  /** Posts in a channel (or a thread); returns the message ts. */
  post(channel: string, message: Message, options?: PostOptions): Promise<string | undefined>;
  update(channel: string, ts: string, message: Message): Promise<void>;
  /** Only `user` sees it, in `channel`. */
  ephemeral(channel: string, user: string, message: Message): Promise<void>;
  upload(channel: string, file: Attachment, threadTs?: string): Promise<void>;
  /** Posts to `user` in a direct message (opening the DM if needed); returns where it was posted. */
  direct(user: string, message: Message): Promise<{ channel: string; ts: string }>;
  /** Creates a public channel; returns its ID (a taken name fails with `name_taken`). */
  createChannel(name: string): Promise<string>;
  /** Adds people to a channel the bot is in; those already there are not an error. */
  invite(channel: string, users: string[]): Promise<void>;
  /** The channel's topic, plain text (Slack keeps 250 characters; longer is cut visibly). */
  setTopic(channel: string, topic: string): Promise<void>;
  pin(channel: string, ts: string): Promise<void>;
  /** The person's display name, or undefined when the workspace does not know them. */
  userName(user: string): Promise<string | undefined>;
  groupMembers(group: string): Promise<string[]>;
}
