/**
 * Public data shapes of the Slack emulator: what it stores, what its query helpers return and
 * what its events carry. Everything handed out is a copy; mutating it never changes emulator state.
 */

/** A Block Kit block as received over the wire (validated, but otherwise kept as sent). */
export interface Block {
  type: string;
  block_id?: string;
  [key: string]: unknown;
}

/** A Block Kit text object. */
export interface TextObject {
  type: 'plain_text' | 'mrkdwn';
  text: string;
  emoji?: boolean;
  verbatim?: boolean;
}

/** Defaults used when the emulator (or a payload builder) is not told otherwise. */
export const EMULATOR_DEFAULTS = {
  botToken: 'xoxb-000000000001-000000000001-emulatorBotToken000000',
  appToken: 'xapp-1-A00000EMUL-000000000001-emulatorAppToken000000',
  signingSecret: 'emulator-signing-secret-0000000000',
  teamId: 'T0AUTOSTK1',
  teamDomain: 'autostack',
  botUserId: 'U0AUTOBOT1',
  botId: 'B0AUTOBOT1',
  appId: 'A0AUTOAPP1',
  triggerTtlMs: 3_000,
  responseUrlTtlMs: 30 * 60 * 1000,
  responseUrlMaxUses: 5,
} as const;

export interface EmulatorUserInit {
  id: string;
  /** Slack handle (`name` in users.info). */
  name: string;
  realName?: string;
  displayName?: string;
  email?: string;
  isBot?: boolean;
  isAdmin?: boolean;
  deleted?: boolean;
  tz?: string;
}

export interface EmulatorChannelInit {
  id: string;
  name: string;
  isPrivate?: boolean;
  /** Member user IDs; when omitted every known user counts as a member. */
  members?: string[];
  /** Whether the bot was invited. Default true. When false, posting fails as in Slack. */
  botIsMember?: boolean;
  isArchived?: boolean;
  topic?: string;
  purpose?: string;
}

export interface SlackEmulatorOptions {
  botToken?: string;
  appToken?: string;
  signingSecret?: string;
  teamId?: string;
  teamDomain?: string;
  botUserId?: string;
  botId?: string;
  appId?: string;
  users?: EmulatorUserInit[];
  channels?: EmulatorChannelInit[];
  /** Usergroup ID → member user IDs. */
  usergroups?: Record<string, string[]>;
  /** Lifetime of trigger IDs from issueTriggerId(); Slack's is 3 seconds. */
  triggerTtlMs?: number;
  /** Lifetime of response URLs; Slack's is 30 minutes. */
  responseUrlTtlMs?: number;
  /** Uses allowed per response URL; Slack allows 5. */
  responseUrlMaxUses?: number;
  /** When true, an unknown channel ID is created on first use instead of answering channel_not_found. */
  autoCreateChannels?: boolean;
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** Port to listen on; default 0 (a free port). */
  port?: number;
  /** Clock in epoch milliseconds (expiry of triggers and response URLs, message timestamps). */
  now?: () => number;
}

export type MessageSource = 'api' | 'response_url' | 'file_upload' | 'user';

/** A file as shown inside a message or returned by files.* methods. */
export interface FileInfo {
  id: string;
  name: string;
  title: string;
  mimetype: string;
  filetype: string;
  size: number;
  user: string;
  created: number;
  url_private: string;
}

/** A previous version of a message, kept when it is updated. */
export interface MessageVersion {
  text: string;
  blocks?: Block[];
  attachments?: Record<string, unknown>[];
  /** Timestamp of the edit that replaced this version. */
  replacedAt: string;
  /** Who replaced it: 'api' (chat.update) or 'response_url' (replace_original). */
  replacedBy: 'api' | 'response_url';
}

export interface EmulatedMessage {
  type: 'message';
  channel: string;
  ts: string;
  /** Set on replies (the parent's ts) and on parents that have replies (their own ts). */
  thread_ts?: string;
  user: string;
  bot_id?: string;
  app_id?: string;
  text: string;
  blocks?: Block[];
  attachments?: Record<string, unknown>[];
  metadata?: Record<string, unknown>;
  files?: FileInfo[];
  reply_broadcast?: boolean;
  reply_count?: number;
  reply_users?: string[];
  latest_reply?: string;
  edited?: { user: string; ts: string };
  deleted: boolean;
  source: MessageSource;
  /** Earlier versions, oldest first (empty when never updated). */
  history: MessageVersion[];
}

export interface EphemeralMessage {
  channel: string;
  user: string;
  /** The message_ts Slack returns for the ephemeral message. */
  ts: string;
  thread_ts?: string;
  text: string;
  blocks?: Block[];
  attachments?: Record<string, unknown>[];
  source: 'api' | 'response_url';
  deleted: boolean;
  history: MessageVersion[];
}

export interface ViewVersion {
  view: Record<string, unknown>;
  hash: string;
  replacedAt: number;
}

export interface EmulatedView {
  id: string;
  type: 'modal' | 'home';
  /** The user the view belongs to (the trigger's user for modals; user_id for home tabs). */
  user?: string;
  team_id: string;
  app_id: string;
  bot_id: string;
  callback_id: string;
  external_id: string;
  private_metadata: string;
  hash: string;
  title?: TextObject;
  submit?: TextObject;
  close?: TextObject;
  blocks: Block[];
  root_view_id: string | null;
  previous_view_id: string | null;
  clear_on_close: boolean;
  notify_on_close: boolean;
  /** The view JSON exactly as last accepted. */
  raw: Record<string, unknown>;
  /** False once the user closed it or a submission closed it (modals only). */
  open: boolean;
  /** Errors a view_submission ack answered with (`response_action: 'errors'`), if any. */
  errors?: Record<string, string>;
  /** Earlier versions, oldest first. */
  history: ViewVersion[];
}

export interface EmulatedFile extends FileInfo {
  alt_text?: string;
  snippet_type?: string;
  /** Declared length from files.getUploadURLExternal. */
  declaredLength: number;
  /** Bytes received at the upload URL (undefined until uploaded). */
  content?: Buffer;
  completed: boolean;
  shares: Array<{ channel: string; ts: string; thread_ts?: string }>;
}

export interface RecordedCall {
  /** 1-based order of arrival. */
  seq: number;
  /** Web API method, or 'file_upload' / 'response_url' for those endpoints. */
  method: string;
  /** Arguments as received (JSON-valued arguments such as blocks, view, files parsed); token removed. */
  args: Record<string, unknown>;
  /** HTTP status answered. */
  status: number;
  /** The JSON body answered (or { raw } for non-JSON answers). */
  response: Record<string, unknown>;
  ok: boolean;
  error?: string;
  /** The injected fault that produced this answer, if any. */
  fault?: Fault;
  at: number;
}

/**
 * An injected failure for the next call(s) of a method (see SlackEmulator.failNext):
 * - `{ status: 429, retryAfterSeconds }`: a real HTTP 429 with a `Retry-After` header (default 1);
 *   the call is not performed.
 * - `{ status: 5xx }` (any other status): that HTTP status; the call is not performed.
 * - `{ error }`: HTTP 200 `{ ok: false, error }` (plus `response_metadata.messages` if given);
 *   the call is not performed.
 * - `{ hangMs }`: the call IS performed, but the answer is held back for hangMs (a client timeout
 *   then looks exactly like Slack having done the work while the response was lost).
 * - `{ held: true }`: the call IS performed, and the answer waits until `releaseHeld()` (a slow
 *   Slack whose pace the test decides).
 */
export type Fault =
  | { status: number; retryAfterSeconds?: number; body?: string }
  | { error: string; messages?: string[] }
  | { hangMs: number }
  | { held: true };

// ----- events -----

export interface MessageEventPayload {
  channel: string;
  ts: string;
  thread_ts?: string;
  user: string;
  text: string;
  blocks: Block[];
  files?: FileInfo[];
  source: MessageSource;
  message: EmulatedMessage;
}

export interface MessageUpdatedPayload {
  channel: string;
  ts: string;
  thread_ts?: string;
  text: string;
  blocks: Block[];
  previous: MessageVersion;
  message: EmulatedMessage;
}

export interface MessageDeletedPayload {
  channel: string;
  ts: string;
  thread_ts?: string;
}

export interface EphemeralEventPayload {
  channel: string;
  user: string;
  ts: string;
  thread_ts?: string;
  text: string;
  blocks: Block[];
  /** True when this replaced an earlier ephemeral (response_url replace_original). */
  replaced: boolean;
  /** True when the ephemeral was removed (response_url delete_original). */
  deleted: boolean;
  ephemeral: EphemeralMessage;
}

export interface ViewEventPayload {
  user?: string;
  view: EmulatedView;
}

export interface HomeEventPayload {
  user: string;
  view: EmulatedView;
}

export interface FileSharedPayload {
  channel: string;
  ts: string;
  thread_ts?: string;
  files: EmulatedFile[];
}

export type SlackEmulatorEventMap = {
  message: [MessageEventPayload];
  message_updated: [MessageUpdatedPayload];
  message_deleted: [MessageDeletedPayload];
  ephemeral: [EphemeralEventPayload];
  view_opened: [ViewEventPayload];
  view_updated: [ViewEventPayload];
  view_pushed: [ViewEventPayload];
  view_closed: [ViewEventPayload];
  home_published: [HomeEventPayload];
  file_shared: [FileSharedPayload];
  /** Every recorded call (API methods, uploads, response URL posts), after it was answered. */
  api_call: [RecordedCall];
};

export type SlackEmulatorEventName = keyof SlackEmulatorEventMap;
