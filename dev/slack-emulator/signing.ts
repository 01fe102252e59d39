/**
 * Slack request signing and the request bodies Slack sends to an app, so tests and the console
 * can drive the bot exactly as Slack does.
 *
 * Signing (Slack's documented scheme, v0): the base string is `v0:<timestamp>:<raw body>`, the
 * signature is `v0=` + hex HMAC-SHA256 of it keyed with the signing secret, sent in
 * `X-Slack-Signature` with the timestamp (epoch seconds) in `X-Slack-Request-Timestamp`.
 *
 * Bodies: slash commands are `application/x-www-form-urlencoded` fields; interactivity
 * (block_actions, view_submission) is a form body with a single `payload` field holding JSON.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { EMULATOR_DEFAULTS } from './types.ts';
import type { Block } from './types.ts';

export const FORM_CONTENT_TYPE = 'application/x-www-form-urlencoded';
export const JSON_CONTENT_TYPE = 'application/json';

export interface SlackSignatureHeaders {
  'x-slack-signature': string;
  'x-slack-request-timestamp': string;
}

/** `v0=<hex>`: HMAC-SHA256 over `v0:<timestampSeconds>:<rawBody>`. */
export function computeSlackSignature(signingSecret: string, rawBody: string, timestampSeconds: number): string {
  const hmac = createHmac('sha256', signingSecret);
  hmac.update(`v0:${timestampSeconds}:${rawBody}`);
  return `v0=${hmac.digest('hex')}`;
}

/** The two headers Slack adds to every request it sends to an app. */
export function signSlackRequest(
  signingSecret: string,
  rawBody: string,
  timestampSeconds: number = Math.floor(Date.now() / 1000),
): SlackSignatureHeaders {
  return {
    'x-slack-signature': computeSlackSignature(signingSecret, rawBody, timestampSeconds),
    'x-slack-request-timestamp': String(timestampSeconds),
  };
}

export interface SendSignedOptions {
  /** Default: application/x-www-form-urlencoded. */
  contentType?: string;
  /** Epoch seconds to sign with (default now); pass an old one to test replay protection. */
  timestamp?: number;
  /** Send a signature that does not match the body (one hex digit changed). */
  badSignature?: boolean;
  /** Extra headers (e.g. x-slack-retry-num). */
  headers?: Record<string, string>;
  /** Abort the request after this many milliseconds. */
  timeoutMs?: number;
}

export interface SignedResponse {
  status: number;
  /** Parsed JSON when the answer is JSON, otherwise the text ('' for an empty body). */
  body: unknown;
  text: string;
  headers: Record<string, string>;
}

/** POSTs `body` to `url` signed with `signingSecret`, as Slack would. */
export async function sendSigned(
  url: string,
  signingSecret: string,
  body: string,
  options: SendSignedOptions = {},
): Promise<SignedResponse> {
  const signed = signSlackRequest(signingSecret, body, options.timestamp);
  if (options.badSignature) signed['x-slack-signature'] = tamper(signed['x-slack-signature']);
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': options.contentType ?? FORM_CONTENT_TYPE,
      'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
      ...signed,
      ...options.headers,
    },
    body,
    signal: options.timeoutMs !== undefined ? AbortSignal.timeout(options.timeoutMs) : undefined,
  });
  const text = await response.text();
  let parsed: unknown = text;
  if (text.length > 0 && (response.headers.get('content-type') ?? '').includes('json')) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  return { status: response.status, body: parsed, text, headers: Object.fromEntries(response.headers.entries()) };
}

function tamper(signature: string): string {
  const last = signature.at(-1);
  return signature.slice(0, -1) + (last === '0' ? '1' : '0');
}

/** A trigger ID shaped like Slack's (not known to any emulator unless issued by it). */
export function randomTriggerId(): string {
  return `${Date.now()}.${randomBytes(4).readUInt32BE(0)}.${randomBytes(16).toString('hex')}`;
}

// ---------------------------------------------------------------------------------------------
// Slash commands

export interface SlashCommandInput {
  /** Default '/autostack'. */
  command?: string;
  text?: string;
  user_id: string;
  user_name?: string;
  channel_id: string;
  channel_name?: string;
  team_id?: string;
  team_domain?: string;
  trigger_id: string;
  response_url: string;
  api_app_id?: string;
  /** Deprecated verification token Slack still sends. */
  token?: string;
  enterprise_id?: string;
  enterprise_name?: string;
  is_enterprise_install?: boolean;
}

/** The fields of a slash command request, in the order Slack sends them. */
export function slashCommandFields(input: SlashCommandInput): Record<string, string> {
  const fields: Record<string, string> = {
    token: input.token ?? 'emulatorVerificationToken',
    team_id: input.team_id ?? EMULATOR_DEFAULTS.teamId,
    team_domain: input.team_domain ?? EMULATOR_DEFAULTS.teamDomain,
    channel_id: input.channel_id,
    channel_name: input.channel_name ?? input.channel_id.toLowerCase(),
    user_id: input.user_id,
    user_name: input.user_name ?? input.user_id.toLowerCase(),
    command: input.command ?? '/autostack',
    text: input.text ?? '',
    api_app_id: input.api_app_id ?? EMULATOR_DEFAULTS.appId,
    is_enterprise_install: String(input.is_enterprise_install ?? false),
    response_url: input.response_url,
    trigger_id: input.trigger_id,
  };
  if (input.enterprise_id !== undefined) fields.enterprise_id = input.enterprise_id;
  if (input.enterprise_name !== undefined) fields.enterprise_name = input.enterprise_name;
  return fields;
}

/** The x-www-form-urlencoded body of a slash command request. */
export function slashCommandBody(input: SlashCommandInput): string {
  return new URLSearchParams(slashCommandFields(input)).toString();
}

// ---------------------------------------------------------------------------------------------
// Interactivity

/** `payload=<url-encoded JSON>`, the form body Slack posts for interactivity. */
export function interactivityBody(payload: object): string {
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

export type UserRef = string | { id: string; name?: string; username?: string; team_id?: string };
export type ChannelRef = string | { id: string; name?: string };

function userObject(user: UserRef, teamId: string): { id: string; username: string; name: string; team_id: string } {
  const u = typeof user === 'string' ? { id: user } : user;
  const name = u.username ?? u.name ?? u.id.toLowerCase();
  return { id: u.id, username: name, name, team_id: u.team_id ?? teamId };
}

function channelObject(channel: ChannelRef): { id: string; name: string } {
  const c = typeof channel === 'string' ? { id: channel } : channel;
  return { id: c.id, name: c.name ?? c.id.toLowerCase() };
}

export interface ActionInput {
  action_id: string;
  block_id?: string;
  /** Default: the element's type in the message/view blocks, else 'button'. */
  type?: string;
  value?: string;
  text?: { type: 'plain_text'; text: string; emoji?: boolean };
  style?: string;
  action_ts?: string;
  /** Any further fields for non-button elements (selected_option, selected_user, ...). */
  [key: string]: unknown;
}

export interface BlockActionsInput {
  user: UserRef;
  channel?: ChannelRef;
  /** The message holding the element (for actions in messages). */
  message?: { ts: string; blocks?: Block[]; text?: string; thread_ts?: string; user?: string; bot_id?: string; [key: string]: unknown };
  /** The view holding the element (for actions in modals / Home tabs), as Slack sends it. */
  view?: Record<string, unknown> & { id: string };
  action: ActionInput;
  trigger_id: string;
  response_url?: string;
  /** Default derived from message/view. */
  container?: Record<string, unknown>;
  /** Whether the message is ephemeral (only used to build the default container). */
  is_ephemeral?: boolean;
  state?: { values: Record<string, Record<string, unknown>> };
  team?: { id: string; domain?: string };
  api_app_id?: string;
  token?: string;
}

/** Finds an interactive element by action_id in blocks; returns it with its block_id. */
export function findElement(blocks: readonly Block[] | undefined, actionId: string): { block_id?: string; element: Record<string, unknown> } | undefined {
  for (const block of blocks ?? []) {
    const candidates: unknown[] = [];
    if (Array.isArray(block.elements)) candidates.push(...block.elements);
    if (block.accessory !== undefined) candidates.push(block.accessory);
    if (block.element !== undefined) candidates.push(block.element);
    for (const el of candidates) {
      if (typeof el === 'object' && el !== null && (el as Record<string, unknown>).action_id === actionId) {
        return { block_id: block.block_id, element: el as Record<string, unknown> };
      }
    }
  }
  return undefined;
}

function nowActionTs(): string {
  const ms = Date.now();
  return `${Math.floor(ms / 1000)}.${String((ms % 1000) * 1000).padStart(6, '0')}`;
}

/** The block_actions payload object Slack sends when a user clicks a button (or uses another element). */
export function buildBlockActions(input: BlockActionsInput): Record<string, unknown> {
  const teamId = input.team?.id ?? EMULATOR_DEFAULTS.teamId;
  const blocks = (input.message?.blocks ?? (input.view?.blocks as Block[] | undefined)) ?? [];
  const found = findElement(blocks, input.action.action_id);
  const el = found?.element ?? {};
  const type = input.action.type ?? (typeof el.type === 'string' ? el.type : 'button');
  const action: Record<string, unknown> = {
    ...input.action,
    action_id: input.action.action_id,
    block_id: input.action.block_id ?? found?.block_id ?? 'unknown_block',
    type,
    action_ts: input.action.action_ts ?? nowActionTs(),
  };
  if (type === 'button') {
    action.text = input.action.text ?? el.text ?? { type: 'plain_text', text: input.action.action_id, emoji: true };
    if (action.value === undefined && typeof el.value === 'string') action.value = el.value;
    if (action.style === undefined && typeof el.style === 'string') action.style = el.style;
  }
  for (const k of Object.keys(action)) if (action[k] === undefined) delete action[k];

  const container =
    input.container ??
    (input.view
      ? { type: 'view', view_id: input.view.id }
      : input.message
        ? {
            type: 'message',
            message_ts: input.message.ts,
            channel_id: input.channel ? channelObject(input.channel).id : undefined,
            is_ephemeral: input.is_ephemeral ?? false,
            ...(input.message.thread_ts ? { thread_ts: input.message.thread_ts } : {}),
          }
        : {});

  const payload: Record<string, unknown> = {
    type: 'block_actions',
    user: userObject(input.user, teamId),
    api_app_id: input.api_app_id ?? EMULATOR_DEFAULTS.appId,
    token: input.token ?? 'emulatorVerificationToken',
    container,
    trigger_id: input.trigger_id,
    team: { id: teamId, domain: input.team?.domain ?? EMULATOR_DEFAULTS.teamDomain },
    enterprise: null,
    is_enterprise_install: false,
    state: input.state ?? { values: {} },
    actions: [action],
  };
  if (input.channel) payload.channel = channelObject(input.channel);
  if (input.message) {
    payload.message = { type: 'message', text: '', ...input.message };
  }
  if (input.view) payload.view = input.view;
  if (input.response_url !== undefined) payload.response_url = input.response_url;
  return payload;
}

/** `payload=<json>` form body of a block_actions request. */
export function blockActionsPayload(input: BlockActionsInput): string {
  return interactivityBody(buildBlockActions(input));
}

export interface ViewSubmissionInput {
  user: UserRef;
  view: {
    id: string;
    callback_id?: string;
    private_metadata?: string;
    state?: { values: Record<string, Record<string, unknown>> };
    blocks?: Block[];
    [key: string]: unknown;
  };
  trigger_id: string;
  team?: { id: string; domain?: string };
  api_app_id?: string;
  token?: string;
  response_urls?: Array<{ block_id: string; action_id: string; channel_id: string; response_url: string }>;
}

/** The view_submission payload object Slack sends when a user submits a modal. */
export function buildViewSubmission(input: ViewSubmissionInput): Record<string, unknown> {
  const teamId = input.team?.id ?? EMULATOR_DEFAULTS.teamId;
  const appId = input.api_app_id ?? EMULATOR_DEFAULTS.appId;
  const view: Record<string, unknown> = {
    team_id: teamId,
    type: 'modal',
    blocks: [],
    private_metadata: '',
    callback_id: '',
    hash: `${Math.floor(Date.now() / 1000)}.${randomBytes(4).toString('hex')}`,
    title: { type: 'plain_text', text: 'Modal', emoji: true },
    clear_on_close: false,
    notify_on_close: false,
    close: null,
    submit: null,
    previous_view_id: null,
    root_view_id: input.view.id,
    app_id: appId,
    external_id: '',
    app_installed_team_id: teamId,
    bot_id: EMULATOR_DEFAULTS.botId,
    ...input.view,
    state: input.view.state ?? { values: {} },
  };
  return {
    type: 'view_submission',
    team: { id: teamId, domain: input.team?.domain ?? EMULATOR_DEFAULTS.teamDomain },
    user: userObject(input.user, teamId),
    api_app_id: appId,
    token: input.token ?? 'emulatorVerificationToken',
    trigger_id: input.trigger_id,
    view,
    response_urls: input.response_urls ?? [],
    is_enterprise_install: false,
    enterprise: null,
  };
}

/** `payload=<json>` form body of a view_submission request. */
export function viewSubmissionPayload(input: ViewSubmissionInput): string {
  return interactivityBody(buildViewSubmission(input));
}

/**
 * Builds the `state.values` entry Slack sends for an input element from a plain value:
 * text inputs get `value`, selects `selected_option`(s) looked up among the element's options,
 * pickers `selected_date` / `selected_time` / `selected_user` / `selected_conversation` / ...
 */
export function stateValueFor(element: Record<string, unknown>, value: unknown): Record<string, unknown> {
  const type = String(element.type ?? 'plain_text_input');
  const findOption = (v: unknown): unknown => {
    const lists: unknown[] = [];
    if (Array.isArray(element.options)) lists.push(...element.options);
    if (Array.isArray(element.option_groups)) {
      for (const g of element.option_groups as Array<Record<string, unknown>>) {
        if (Array.isArray(g.options)) lists.push(...g.options);
      }
    }
    return lists.find((o) => typeof o === 'object' && o !== null && (o as Record<string, unknown>).value === v) ?? {
      text: { type: 'plain_text', text: String(v), emoji: true },
      value: String(v),
    };
  };
  const many = (v: unknown): unknown[] => (Array.isArray(v) ? v : [v]);
  switch (type) {
    case 'static_select':
    case 'external_select':
    case 'radio_buttons':
      return { type, selected_option: value === null || value === undefined ? null : findOption(value) };
    case 'multi_static_select':
    case 'multi_external_select':
    case 'checkboxes':
      return { type, selected_options: many(value ?? []).map(findOption) };
    case 'users_select':
      return { type, selected_user: value ?? null };
    case 'multi_users_select':
      return { type, selected_users: many(value ?? []) };
    case 'conversations_select':
      return { type, selected_conversation: value ?? null };
    case 'multi_conversations_select':
      return { type, selected_conversations: many(value ?? []) };
    case 'channels_select':
      return { type, selected_channel: value ?? null };
    case 'multi_channels_select':
      return { type, selected_channels: many(value ?? []) };
    case 'datepicker':
      return { type, selected_date: value ?? null };
    case 'timepicker':
      return { type, selected_time: value ?? null };
    case 'datetimepicker':
      return { type, selected_date_time: value ?? null };
    default:
      return { type, value: value === undefined || value === null ? null : String(value) };
  }
}
