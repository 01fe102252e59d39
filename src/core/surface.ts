/** What the dispatcher needs from the chat transport; implemented over the Slack Web API. */
import type { FormField } from './types.ts';
import type { Reply } from './result.ts';

export interface ModalSpec {
  callbackId: string;
  title: string;
  submit: string;
  /** Round-tripped through Slack untouched (the view's private_metadata). */
  metadata: string;
  intro?: string;
  fields: FormField[];
}

export interface Surface {
  /** Only the acting user sees it. */
  ephemeral(reply: Reply): Promise<void>;
  /** Posts in a channel (or a thread); returns the message ts. */
  post(channel: string, reply: Reply, threadTs?: string): Promise<string | undefined>;
  update(channel: string, ts: string, reply: Reply): Promise<void>;
  /** The same person, answered in another channel (a modal's submission has none of its own). */
  inChannel(channel: string): Surface;
  /** Publishes the user's App Home tab. */
  publishHome(userId: string, reply: Reply): Promise<void>;
  /** Needs the interaction's trigger (Slack allows 3 seconds). */
  openModal(modal: ModalSpec): Promise<void>;
}
