/**
 * SlackEmulator: a local HTTP emulation of the Slack Web API, reachable by the real
 * @slack/web-api WebClient (`new WebClient(token, { slackApiUrl: emulator.apiUrl })`), plus the
 * pieces of Slack an app talks to besides the Web API: upload URLs (files upload v2), response
 * URLs, trigger IDs. It keeps the workspace state (messages, threads, ephemerals, views, Home
 * tabs, files), emits an event for everything that becomes visible, validates payloads with
 * Slack's limits, and can inject faults (429 with Retry-After, 5xx, error answers, slow answers).
 */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ApiError,
  bool,
  jsonArg,
  nonEmpty,
  parseArgs,
  readBody,
  recordedArgs,
  sendJson,
  sendText,
  str,
  uploadedBytes,
} from './http.ts';
import type { Args } from './http.ts';
import {
  buildBlockActions,
  buildViewSubmission,
  findElement,
  interactivityBody,
  sendSigned,
  slashCommandBody,
  slashCommandFields,
  stateValueFor,
} from './signing.ts';
import type { ActionInput, SendSignedOptions, SignedResponse } from './signing.ts';
import { EMULATOR_DEFAULTS } from './types.ts';
import type {
  Block,
  EmulatedFile,
  EmulatedMessage,
  EmulatedView,
  EmulatorChannelInit,
  EmulatorUserInit,
  EphemeralMessage,
  Fault,
  FileInfo,
  MessageSource,
  MessageVersion,
  RecordedCall,
  SlackEmulatorEventMap,
  SlackEmulatorEventName,
  SlackEmulatorOptions,
  TextObject,
} from './types.ts';
import { validateMessagePayload, validateView } from './validation.ts';
import { SocketModeHub } from './socket-mode.ts';

interface ChannelState {
  id: string;
  name: string;
  isPrivate: boolean;
  isIm: boolean;
  isMpim: boolean;
  /** For a DM: the user on the other side. */
  imUser?: string;
  members?: Set<string>;
  botIsMember: boolean;
  isArchived: boolean;
  topic: string;
  purpose: string;
  created: number;
  /** Pinned message timestamps, oldest pin first. */
  pins: string[];
  messages: EmulatedMessage[];
  byTs: Map<string, EmulatedMessage>;
}

interface TriggerState {
  user?: string;
  expiresAt: number;
  used: boolean;
}

interface ResponseUrlState {
  channel: string;
  user: string;
  messageTs?: string;
  threadTs?: string;
  uses: number;
  expiresAt: number;
}

export interface ResponseUrlOptions {
  channel: string;
  user: string;
  /** The message the interaction happened on (target of replace_original / delete_original). */
  messageTs?: string;
  /** Thread to post into when the posted payload has no thread_ts. */
  threadTs?: string;
}

export interface AddUserMessageOptions {
  channel: string;
  user: string;
  text: string;
  thread_ts?: string;
  blocks?: Block[];
}

export interface SlashCommandOptions {
  user: string;
  channel: string;
  text?: string;
  command?: string;
}

export interface SlashCommandRequest {
  body: string;
  fields: Record<string, string>;
  triggerId: string;
  responseUrl: string;
}

export interface BlockActionOptions {
  user: string;
  actionId: string;
  /** For an element in a message (or ephemeral message): its channel and ts. */
  channel?: string;
  messageTs?: string;
  /** For an element in a modal or Home tab. */
  viewId?: string;
  /** Extra or overriding action fields (value, selected_option, ...). */
  action?: Partial<ActionInput>;
  /** state.values of a view, as plain values: block_id → action_id → value. */
  values?: Record<string, Record<string, unknown>>;
}

export interface InteractionRequest {
  body: string;
  payload: Record<string, unknown>;
  triggerId: string;
  responseUrl?: string;
}

export interface ViewSubmissionOptions {
  viewId: string;
  /** Default: the user the view belongs to. */
  user?: string;
  /** Plain values by block_id → action_id (strings, option values, arrays for multi selects). */
  values?: Record<string, Record<string, unknown>>;
}

export type ViewSubmissionOutcome = 'closed' | 'errors' | 'updated' | 'pushed' | 'cleared' | 'invalid_response' | 'failed';

export interface ViewSubmissionResult {
  response: SignedResponse;
  outcome: ViewSubmissionOutcome;
  /** For 'errors': the errors answered; for 'invalid_response': what is wrong with the answer. */
  errors?: Record<string, string> | string[];
  view?: EmulatedView;
}

type Handler = (args: Args) => Record<string, unknown>;

const MAX_VIEW_STACK = 3;
const DEFAULT_REPLIES_LIMIT = 1000;

function randomId(prefix: string, length = 10): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  const bytes = randomBytes(length);
  let out = prefix;
  for (let i = 0; i < length - prefix.length; i++) out += alphabet[bytes[i]! % alphabet.length];
  return out;
}

function shortId(): string {
  return randomBytes(4).toString('base64url').slice(0, 5);
}

const MIME_TYPES: Record<string, string> = {
  txt: 'text/plain',
  log: 'text/plain',
  md: 'text/markdown',
  csv: 'text/csv',
  json: 'application/json',
  yaml: 'application/yaml',
  yml: 'application/yaml',
  html: 'text/html',
  pdf: 'application/pdf',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  zip: 'application/zip',
  gz: 'application/gzip',
};

function fileTypeOf(filename: string): { filetype: string; mimetype: string } {
  const ext = filename.includes('.') ? filename.split('.').pop()!.toLowerCase() : '';
  return { filetype: ext === '' ? 'binary' : ext === 'txt' ? 'text' : ext, mimetype: MIME_TYPES[ext] ?? 'application/octet-stream' };
}

const clone = <T>(v: T): T => structuredClone(v);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export class SlackEmulator extends EventEmitter<SlackEmulatorEventMap> {
  readonly botToken: string;
  /** App-level token (xapp-...) for Socket Mode's apps.connections.open. */
  readonly appToken: string;
  private socketHub?: SocketModeHub;
  readonly signingSecret: string;
  readonly teamId: string;
  readonly teamDomain: string;
  readonly botUserId: string;
  readonly botId: string;
  readonly appId: string;
  readonly triggerTtlMs: number;
  readonly responseUrlTtlMs: number;
  readonly responseUrlMaxUses: number;
  readonly autoCreateChannels: boolean;

  private readonly host: string;
  private readonly requestedPort: number;
  private readonly now: () => number;
  private server: Server | undefined;
  private listeningPort = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly heldAnswers: Array<() => void> = [];

  private readonly users = new Map<string, EmulatorUserInit>();
  private readonly channels = new Map<string, ChannelState>();
  private readonly usergroups = new Map<string, string[]>();
  private ephemeralList: EphemeralMessage[] = [];
  private readonly viewsById = new Map<string, EmulatedView>();
  private readonly homeByUser = new Map<string, string>();
  private readonly stacks = new Map<string, string[]>();
  private readonly filesById = new Map<string, EmulatedFile>();
  private readonly uploads = new Map<string, string>();
  private readonly triggers = new Map<string, TriggerState>();
  private readonly responseUrls = new Map<string, ResponseUrlState>();
  private readonly faults = new Map<string, Fault[]>();
  private recorded: RecordedCall[] = [];
  private seq = 0;
  private triggerSeq = 0;
  private lastTsSec = 0;
  private lastTsMicro = 0;

  private readonly handlers: Record<string, Handler>;

  constructor(options: SlackEmulatorOptions = {}) {
    super();
    this.botToken = options.botToken ?? EMULATOR_DEFAULTS.botToken;
    this.appToken = options.appToken ?? EMULATOR_DEFAULTS.appToken;
    this.signingSecret = options.signingSecret ?? EMULATOR_DEFAULTS.signingSecret;
    this.teamId = options.teamId ?? EMULATOR_DEFAULTS.teamId;
    this.teamDomain = options.teamDomain ?? EMULATOR_DEFAULTS.teamDomain;
    this.botUserId = options.botUserId ?? EMULATOR_DEFAULTS.botUserId;
    this.botId = options.botId ?? EMULATOR_DEFAULTS.botId;
    this.appId = options.appId ?? EMULATOR_DEFAULTS.appId;
    this.triggerTtlMs = options.triggerTtlMs ?? EMULATOR_DEFAULTS.triggerTtlMs;
    this.responseUrlTtlMs = options.responseUrlTtlMs ?? EMULATOR_DEFAULTS.responseUrlTtlMs;
    this.responseUrlMaxUses = options.responseUrlMaxUses ?? EMULATOR_DEFAULTS.responseUrlMaxUses;
    this.autoCreateChannels = options.autoCreateChannels ?? false;
    this.host = options.host ?? '127.0.0.1';
    this.requestedPort = options.port ?? 0;
    this.now = options.now ?? Date.now;

    this.addUser({ id: this.botUserId, name: 'autostack', realName: 'AutoStack', isBot: true });
    for (const u of options.users ?? []) this.addUser(u);
    for (const c of options.channels ?? []) this.addChannel(c.id, c.name, c);
    for (const [id, members] of Object.entries(options.usergroups ?? {})) this.setUsergroup(id, members);

    this.handlers = {
      'api.test': (args) => ({ args: recordedArgs(args) }),
      'auth.test': () => this.authTest(),
      'apps.connections.open': () => ({ url: this.socketMode.connectionUrl(this.baseUrl.replace(/^http/, 'ws')) }),
      'chat.postMessage': (args) => this.chatPostMessage(args),
      'chat.update': (args) => this.chatUpdate(args),
      'chat.delete': (args) => this.chatDelete(args),
      'chat.postEphemeral': (args) => this.chatPostEphemeral(args),
      'chat.getPermalink': (args) => this.chatGetPermalink(args),
      'views.open': (args) => this.viewsOpen(args),
      'views.push': (args) => this.viewsPush(args),
      'views.update': (args) => this.viewsUpdate(args),
      'views.publish': (args) => this.viewsPublish(args),
      'files.getUploadURLExternal': (args) => this.filesGetUploadUrl(args),
      'files.completeUploadExternal': (args) => this.filesComplete(args),
      'files.info': (args) => this.filesInfo(args),
      'users.info': (args) => this.usersInfo(args),
      'users.lookupByEmail': (args) => this.usersLookupByEmail(args),
      'usergroups.users.list': (args) => this.usergroupsUsersList(args),
      'conversations.info': (args) => this.conversationsInfo(args),
      'conversations.open': (args) => this.conversationsOpen(args),
      'conversations.replies': (args) => this.conversationsReplies(args),
      'conversations.history': (args) => this.conversationsHistory(args),
      'conversations.create': (args) => this.conversationsCreate(args),
      'conversations.invite': (args) => this.conversationsInvite(args),
      'conversations.setTopic': (args) => this.conversationsSetTopic(args),
      'pins.add': (args) => this.pinsAdd(args),
    };
  }

  // ===========================================================================================
  // lifecycle

  /** Starts listening (on 127.0.0.1 and a free port unless configured). Idempotent. */
  async start(): Promise<this> {
    if (this.server) return this;
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        sendJson(res, 500, { ok: false, error: 'emulator_internal_error', detail: err instanceof Error ? err.message : String(err) });
      });
    });
    await this.listen(server, this.requestedPort);
    this.server = server;
    this.listeningPort = (server.address() as AddressInfo).port;
    this.socketHub = new SocketModeHub(server);
    return this;
  }

  /** Stops listening, drops open connections and held-back (hanging) answers. */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.socketHub?.close();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await stopListening(server);
  }

  /** Slack unreachable: the port stops listening, so connections are refused until `acceptConnections()`. */
  async refuseConnections(): Promise<void> {
    const server = this.server;
    if (!server) throw new Error('SlackEmulator is not started');
    await stopListening(server);
  }

  /** Listens again on the same port after `refuseConnections()`. */
  async acceptConnections(): Promise<void> {
    const server = this.server;
    if (!server) throw new Error('SlackEmulator is not started');
    await this.listen(server, this.listeningPort);
  }

  private listen(server: Server, port: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  get port(): number {
    if (!this.server) throw new Error('SlackEmulator is not started');
    return this.listeningPort;
  }

  /** http://127.0.0.1:PORT */
  get baseUrl(): string {
    return `http://${this.host}:${this.port}`;
  }

  /** http://127.0.0.1:PORT/api/ — pass as WebClient's slackApiUrl. */
  /** Socket Mode: apps connected over WebSocket, and envelope delivery to them. */
  get socketMode(): SocketModeHub {
    if (!this.socketHub) throw new Error('start() the emulator before using Socket Mode');
    return this.socketHub;
  }

  get apiUrl(): string {
    return `${this.baseUrl}/api/`;
  }

  // ===========================================================================================
  // directory

  addUser(user: EmulatorUserInit): void {
    this.users.set(user.id, { ...user });
  }

  addChannel(id: string, name: string, options: Omit<EmulatorChannelInit, 'id' | 'name'> = {}): void {
    const existing = this.channels.get(id);
    this.channels.set(id, {
      id,
      name: name.replace(/^#/, ''),
      isPrivate: options.isPrivate ?? false,
      isIm: false,
      isMpim: false,
      members: options.members ? new Set(options.members) : undefined,
      botIsMember: options.botIsMember ?? true,
      isArchived: options.isArchived ?? false,
      topic: options.topic ?? '',
      purpose: options.purpose ?? '',
      created: Math.floor(this.now() / 1000),
      pins: existing?.pins ?? [],
      messages: existing?.messages ?? [],
      byTs: existing?.byTs ?? new Map(),
    });
  }

  setUsergroup(id: string, members: string[]): void {
    this.usergroups.set(id, [...members]);
  }

  // ===========================================================================================
  // triggers, response URLs, faults

  /** A fresh trigger ID, valid for triggerTtlMs (or ttlMs) and usable once by views.open / views.push. */
  issueTriggerId(options: { user?: string; ttlMs?: number } = {}): string {
    this.triggerSeq++;
    const id = `${Math.floor(this.now())}${String(this.triggerSeq).padStart(4, '0')}.${this.teamNumber()}.${randomBytes(16).toString('hex')}`;
    this.triggers.set(id, { user: options.user, expiresAt: this.now() + (options.ttlMs ?? this.triggerTtlMs), used: false });
    return id;
  }

  /** Expires every trigger ID issued so far. */
  expireTriggers(): void {
    for (const t of this.triggers.values()) t.expiresAt = -Infinity;
  }

  /** A response URL on this emulator: http://127.0.0.1:PORT/response/<id>; 5 uses within 30 minutes. */
  issueResponseUrl(options: ResponseUrlOptions): string {
    const ch = this.lookupChannel(options.channel);
    if (!ch) throw new Error(`issueResponseUrl: unknown channel ${options.channel}`);
    const id = randomBytes(12).toString('hex');
    this.responseUrls.set(id, {
      channel: ch.id,
      user: options.user,
      messageTs: options.messageTs,
      threadTs: options.threadTs,
      uses: 0,
      expiresAt: this.now() + this.responseUrlTtlMs,
    });
    return `${this.baseUrl}/response/${id}`;
  }

  /**
   * Makes the next `times` calls of `method` fail with `fault`. `method` is a Web API method name,
   * 'file_upload' (the upload URL), 'response_url', or '*' (any Web API method).
   */
  failNext(method: string, fault: Fault, times = 1): void {
    const queue = this.faults.get(method) ?? [];
    for (let i = 0; i < times; i++) queue.push({ ...fault });
    this.faults.set(method, queue);
  }

  /** Sends the answers `{ held: true }` faults hold back. */
  releaseHeld(): void {
    for (const release of this.heldAnswers.splice(0)) release();
  }

  clearFaults(): void {
    this.faults.clear();
  }

  // ===========================================================================================
  // queries (all return copies)

  /** Every recorded call, in order of arrival; only those of `method` when given. */
  calls(method?: string): RecordedCall[] {
    return clone(method === undefined ? this.recorded : this.recorded.filter((c) => c.method === method));
  }

  /**
   * Messages of a channel (ID, name, '#name', or a user ID for the bot's DM with that user),
   * oldest first. By default top-level messages only (what the channel shows), not deleted ones.
   */
  channelMessages(channel: string, options: { includeReplies?: boolean; includeDeleted?: boolean } = {}): EmulatedMessage[] {
    const ch = this.queryChannel(channel);
    if (!ch) return [];
    return clone(
      ch.messages.filter(
        (m) => (options.includeDeleted || !m.deleted) && (options.includeReplies || m.thread_ts === undefined || m.thread_ts === m.ts),
      ),
    );
  }

  /** Replies under a parent message, oldest first (the parent itself not included). */
  thread(channel: string, parentTs: string): EmulatedMessage[] {
    const ch = this.queryChannel(channel);
    if (!ch) return [];
    return clone(ch.messages.filter((m) => !m.deleted && m.thread_ts === parentTs && m.ts !== parentTs));
  }

  /** One message in its current version, with `history` holding the versions it replaced. */
  message(channel: string, ts: string): EmulatedMessage | undefined {
    const m = this.queryChannel(channel)?.byTs.get(ts);
    return m ? clone(m) : undefined;
  }

  /** Ephemeral messages (not deleted), oldest first; only those shown to `user` when given. */
  ephemerals(user?: string): EphemeralMessage[] {
    return clone(this.ephemeralList.filter((e) => !e.deleted && (user === undefined || e.user === user)));
  }

  /** Every view (modals and Home tabs) in creation order; only `user`'s when given. */
  views(user?: string): EmulatedView[] {
    return clone([...this.viewsById.values()].filter((v) => user === undefined || v.user === user));
  }

  view(viewId: string): EmulatedView | undefined {
    const v = this.viewsById.get(viewId);
    return v ? clone(v) : undefined;
  }

  /** The user's open modal stack, root first. */
  modalStack(user: string): EmulatedView[] {
    return clone((this.stacks.get(user) ?? []).map((id) => this.viewsById.get(id)!));
  }

  /** The user's published Home tab, with its history. */
  home(user: string): EmulatedView | undefined {
    const id = this.homeByUser.get(user);
    return id ? clone(this.viewsById.get(id)) : undefined;
  }

  /** Every file created through files.getUploadURLExternal, with its bytes once uploaded. */
  files(): EmulatedFile[] {
    return [...this.filesById.values()].map((f) => this.copyFile(f));
  }

  /** Users of the directory (including the bot user). */
  listUsers(): EmulatorUserInit[] {
    return clone([...this.users.values()]);
  }

  /** A channel's topic, members (undefined: everyone) and pinned messages (oldest pin first). */
  channelState(channel: string): { id: string; name: string; topic: string; members?: string[]; pins: EmulatedMessage[] } | undefined {
    const ch = this.queryChannel(channel);
    if (!ch) return undefined;
    const pins = ch.pins.map((ts) => ch.byTs.get(ts)).filter((m): m is EmulatedMessage => m !== undefined && !m.deleted);
    return clone({ id: ch.id, name: ch.name, topic: ch.topic, members: ch.members ? [...ch.members] : undefined, pins });
  }

  /** Channels of the directory (including DMs opened so far). */
  listChannels(): Array<{ id: string; name: string; isPrivate: boolean; isIm: boolean; imUser?: string }> {
    return [...this.channels.values()].map((c) => ({ id: c.id, name: c.name, isPrivate: c.isPrivate, isIm: c.isIm, imUser: c.imUser }));
  }

  /**
   * Forgets everything that happened (messages, ephemerals, views, Home tabs, files, triggers,
   * response URLs, faults, recorded calls); keeps users, channels and usergroups.
   */
  reset(): void {
    for (const ch of this.channels.values()) {
      ch.messages = [];
      ch.byTs = new Map();
      ch.pins = [];
    }
    this.ephemeralList = [];
    this.viewsById.clear();
    this.homeByUser.clear();
    this.stacks.clear();
    this.filesById.clear();
    this.uploads.clear();
    this.triggers.clear();
    this.responseUrls.clear();
    this.faults.clear();
    this.recorded = [];
    this.seq = 0;
  }

  /** Resolves with the payload of the next `event` that satisfies `predicate`. */
  waitFor<K extends SlackEmulatorEventName>(
    event: K,
    predicate: (payload: SlackEmulatorEventMap[K][0]) => boolean = () => true,
    timeoutMs = 5000,
  ): Promise<SlackEmulatorEventMap[K][0]> {
    return new Promise((resolve, reject) => {
      const emitter = this as unknown as EventEmitter;
      const listener = (payload: SlackEmulatorEventMap[K][0]): void => {
        if (!predicate(payload)) return;
        clearTimeout(timer);
        emitter.off(event, listener);
        resolve(payload);
      };
      const timer = setTimeout(() => {
        emitter.off(event, listener);
        reject(new Error(`SlackEmulator.waitFor('${event}') timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      emitter.on(event, listener);
    });
  }

  // ===========================================================================================
  // simulating people

  /** A message posted by a person (as if typed in Slack); emits 'message'. */
  addUserMessage(options: AddUserMessageOptions): EmulatedMessage {
    const ch = this.lookupChannel(options.channel);
    if (!ch) throw new Error(`addUserMessage: unknown channel ${options.channel}`);
    if (!this.users.has(options.user)) throw new Error(`addUserMessage: unknown user ${options.user}`);
    const blocks = options.blocks ?? [{ type: 'rich_text', block_id: shortId(), elements: [{ type: 'rich_text_section', elements: [{ type: 'text', text: options.text }] }] }];
    return clone(
      this.addMessage(ch, { user: options.user, text: options.text, blocks, thread_ts: options.thread_ts, source: 'user', bot: false }),
    );
  }

  /** A slash command request as Slack sends it, with a fresh trigger ID and response URL. */
  slashCommand(options: SlashCommandOptions): SlashCommandRequest {
    const ch = this.lookupChannel(options.channel);
    if (!ch) throw new Error(`slashCommand: unknown channel ${options.channel}`);
    const triggerId = this.issueTriggerId({ user: options.user });
    const responseUrl = this.issueResponseUrl({ channel: ch.id, user: options.user });
    const input = {
      command: options.command ?? '/autostack',
      text: options.text ?? '',
      user_id: options.user,
      user_name: this.users.get(options.user)?.name ?? options.user.toLowerCase(),
      channel_id: ch.id,
      channel_name: ch.isIm ? 'directmessage' : ch.name,
      team_id: this.teamId,
      team_domain: this.teamDomain,
      trigger_id: triggerId,
      response_url: responseUrl,
      api_app_id: this.appId,
    };
    return { body: slashCommandBody(input), fields: slashCommandFields(input), triggerId, responseUrl };
  }

  /**
   * A block_actions request for a click on the element `actionId` of a message (channel +
   * messageTs, ephemeral messages included) or of a view (viewId), with a fresh trigger ID and,
   * for messages, a response URL. Throws when the element does not exist.
   */
  blockAction(options: BlockActionOptions): InteractionRequest {
    const triggerId = this.issueTriggerId({ user: options.user });
    const action = { ...options.action, action_id: options.actionId };
    if (options.viewId !== undefined) {
      const view = this.viewsById.get(options.viewId);
      if (!view) throw new Error(`blockAction: unknown view ${options.viewId}`);
      if (!findElement(view.blocks, options.actionId)) throw new Error(`blockAction: no element with action_id ${options.actionId} in view ${view.id}`);
      const payload = buildBlockActions({
        user: this.userRef(options.user),
        view: { ...this.apiView(view), state: { values: this.buildState(view, options.values ?? {}, false) } },
        action,
        trigger_id: triggerId,
        team: { id: this.teamId, domain: this.teamDomain },
        api_app_id: this.appId,
      });
      return { body: interactivityBody(payload), payload, triggerId };
    }
    if (options.channel === undefined || options.messageTs === undefined) {
      throw new Error('blockAction: give channel and messageTs (message) or viewId (view)');
    }
    const ch = this.lookupChannel(options.channel);
    if (!ch) throw new Error(`blockAction: unknown channel ${options.channel}`);
    const eph = this.ephemeralList.find((e) => e.ts === options.messageTs && e.channel === ch.id && !e.deleted);
    const msg = eph ? undefined : ch.byTs.get(options.messageTs);
    if (!eph && (!msg || msg.deleted)) throw new Error(`blockAction: no message ${options.messageTs} in ${ch.id}`);
    const blocks = eph?.blocks ?? msg?.blocks;
    if (!findElement(blocks, options.actionId)) throw new Error(`blockAction: no element with action_id ${options.actionId} in message ${options.messageTs}`);
    const responseUrl = this.issueResponseUrl({
      channel: ch.id,
      user: options.user,
      messageTs: options.messageTs,
      threadTs: (eph?.thread_ts ?? msg?.thread_ts) || undefined,
    });
    const payload = buildBlockActions({
      user: this.userRef(options.user),
      channel: { id: ch.id, name: ch.isIm ? 'directmessage' : ch.name },
      message: eph ? { ts: eph.ts, blocks: eph.blocks, text: eph.text } : this.apiMessage(msg!) as { ts: string },
      is_ephemeral: eph !== undefined,
      action,
      trigger_id: triggerId,
      response_url: responseUrl,
      team: { id: this.teamId, domain: this.teamDomain },
      api_app_id: this.appId,
    });
    if (eph) delete payload.message;
    return { body: interactivityBody(payload), payload, triggerId, responseUrl };
  }

  /** A view_submission request for an open modal, with state.values built from plain values. */
  viewSubmission(options: ViewSubmissionOptions): InteractionRequest {
    const view = this.viewsById.get(options.viewId);
    if (!view) throw new Error(`viewSubmission: unknown view ${options.viewId}`);
    if (view.type !== 'modal' || !view.open) throw new Error(`viewSubmission: view ${view.id} is not an open modal`);
    const user = options.user ?? view.user;
    if (user === undefined) throw new Error('viewSubmission: the view has no user; pass one');
    const triggerId = this.issueTriggerId({ user });
    const payload = buildViewSubmission({
      user: this.userRef(user),
      view: { ...this.apiView(view), state: { values: this.buildState(view, options.values ?? {}, true) } },
      trigger_id: triggerId,
      team: { id: this.teamId, domain: this.teamDomain },
      api_app_id: this.appId,
    });
    return { body: interactivityBody(payload), payload, triggerId };
  }

  /** POSTs a body to the app signed with this emulator's signing secret. */
  deliver(url: string, body: string, options: SendSignedOptions = {}): Promise<SignedResponse> {
    return sendSigned(url, this.signingSecret, body, options);
  }

  /**
   * Submits a modal to the app at `url` and applies the app's answer as Slack would: no
   * response_action closes the view, 'errors' keeps it open with the errors, 'update' replaces
   * it, 'push' pushes a new view, 'clear' closes the whole stack.
   */
  async submitView(url: string, options: ViewSubmissionOptions): Promise<ViewSubmissionResult> {
    const { body } = this.viewSubmission(options);
    const response = await this.deliver(url, body);
    const view = this.viewsById.get(options.viewId)!;
    if (response.status !== 200) return { response, outcome: 'failed' };
    const answer = isRecord(response.body) ? response.body : undefined;
    const action = answer?.response_action;
    if (action === undefined) {
      this.closeView(view.id, { clearStack: false });
      return { response, outcome: 'closed', view: clone(view) };
    }
    if (action === 'errors') {
      const errors = isRecord(answer?.errors) ? (answer.errors as Record<string, string>) : {};
      view.errors = { ...errors };
      return { response, outcome: 'errors', errors, view: clone(view) };
    }
    if (action === 'clear') {
      this.closeView(view.id, { clearStack: true });
      return { response, outcome: 'cleared', view: clone(view) };
    }
    if (action === 'update' || action === 'push') {
      const problems = validateView(answer?.view, 'modal');
      if (problems.length > 0) return { response, outcome: 'invalid_response', errors: problems };
      const raw = answer!.view as Record<string, unknown>;
      if (action === 'update') {
        this.replaceView(view, raw);
        this.emit('view_updated', { user: view.user, view: clone(view) });
        return { response, outcome: 'updated', view: clone(view) };
      }
      const pushed = this.pushView(raw, view.user);
      return { response, outcome: 'pushed', view: clone(pushed) };
    }
    return { response, outcome: 'invalid_response', errors: [`unknown response_action ${String(action)}`] };
  }

  /**
   * The user closes a modal: it and any view pushed above it close (the whole stack with
   * clearStack). Emits 'view_closed' for each.
   */
  closeView(viewId: string, { clearStack = false }: { clearStack?: boolean } = {}): void {
    const view = this.viewsById.get(viewId);
    if (!view || view.type !== 'modal' || view.user === undefined) return;
    const stack = this.stacks.get(view.user) ?? [];
    const index = stack.indexOf(viewId);
    if (index < 0) return;
    const closing = clearStack || view.clear_on_close ? stack.splice(0) : stack.splice(index);
    for (const id of closing.reverse()) {
      const v = this.viewsById.get(id)!;
      v.open = false;
      this.emit('view_closed', { user: v.user, view: clone(v) });
    }
  }

  // ===========================================================================================
  // HTTP

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', `http://${this.host}`);
    const raw = await readBody(req);
    const path = url.pathname;
    if (path.startsWith('/api/')) return this.handleApi(decodeURIComponent(path.slice('/api/'.length)), req, res, url, raw);
    if (path.startsWith('/upload/v1/')) return this.handleUpload(path.slice('/upload/v1/'.length), req, res, raw);
    if (path.startsWith('/response/')) return this.handleResponseUrl(path.slice('/response/'.length), req, res, raw);
    if (path.startsWith('/files/')) return this.handleFileDownload(path.slice('/files/'.length), req, res);
    sendText(res, 404, 'not_found');
  }

  private takeFault(method: string, wildcard: boolean): Fault | undefined {
    for (const key of wildcard ? [method, '*'] : [method]) {
      const queue = this.faults.get(key);
      if (queue && queue.length > 0) {
        const fault = queue.shift()!;
        if (queue.length === 0) this.faults.delete(key);
        return fault;
      }
    }
    return undefined;
  }

  /** Answers with an injected fault unless it is a hang; returns true when the request was answered. */
  private answerFault(fault: Fault, method: string, args: Args, res: ServerResponse): boolean {
    if ('hangMs' in fault || 'held' in fault) return false;
    if ('error' in fault) {
      const body: Record<string, unknown> = { ok: false, error: fault.error };
      if (fault.messages) body.response_metadata = { messages: fault.messages };
      this.record(method, args, 200, body, fault);
      sendJson(res, 200, body);
      return true;
    }
    if (fault.status === 429) {
      const retryAfter = fault.retryAfterSeconds ?? 1;
      const body = { ok: false, error: 'ratelimited' };
      this.record(method, args, 429, body, fault);
      sendJson(res, 429, body, { 'retry-after': String(retryAfter) });
      return true;
    }
    const text = fault.body ?? `HTTP ${fault.status}`;
    this.record(method, args, fault.status, { raw: text }, fault);
    sendText(res, fault.status, text);
    return true;
  }

  /** Holds an answer back as a `hangMs` or `held` fault asks. */
  private async holdAnswer(fault: Fault | undefined): Promise<void> {
    if (fault && 'hangMs' in fault) await this.hold(fault.hangMs);
    if (fault && 'held' in fault) await new Promise<void>((release) => this.heldAnswers.push(release));
  }

  private hold(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }

  private async handleApi(method: string, req: IncomingMessage, res: ServerResponse, url: URL, raw: Buffer): Promise<void> {
    let args: Args = {};
    let parseError: ApiError | undefined;
    try {
      args = await parseArgs(req, url, raw);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      parseError = err;
    }
    const fault = this.takeFault(method, true);
    if (fault && this.answerFault(fault, method, args, res)) return;

    let body: Record<string, unknown>;
    if (parseError) {
      body = { ok: false, error: parseError.code };
    } else {
      body = this.dispatch(method, args, req);
    }
    const recordedStatus = 200;
    this.record(method, args, recordedStatus, body, fault);
    await this.holdAnswer(fault);
    sendJson(res, 200, body);
  }

  private dispatch(method: string, args: Args, req: IncomingMessage): Record<string, unknown> {
    const handler = this.handlers[method];
    if (!handler) return { ok: false, error: 'unknown_method', req_method: method };
    const header = req.headers.authorization;
    const token = header?.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : str(args, 'token');
    if (!token) return { ok: false, error: 'not_authed' };
    // apps.connections.open is the one method called with the app-level token.
    if (token !== (method === 'apps.connections.open' ? this.appToken : this.botToken)) return { ok: false, error: 'invalid_auth' };
    try {
      return { ok: true, ...handler(args) };
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      const body: Record<string, unknown> = { ok: false, error: err.code, ...err.extra };
      if (err.messages.length > 0) body.response_metadata = { messages: err.messages };
      return body;
    }
  }

  private record(method: string, args: Args, status: number, response: Record<string, unknown>, fault?: Fault): void {
    const call: RecordedCall = {
      seq: ++this.seq,
      method,
      args: recordedArgs(args),
      status,
      response: clone(response),
      ok: status === 200 && response.ok === true,
      at: this.now(),
    };
    if (typeof response.error === 'string') call.error = response.error;
    if (fault) call.fault = { ...fault };
    this.recorded.push(call);
    this.emit('api_call', clone(call));
  }

  // ===========================================================================================
  // ids, clock, lookups

  private teamNumber(): number {
    let n = 0;
    for (const ch of this.teamId) n = (n * 31 + ch.charCodeAt(0)) % 1_000_000_007;
    return n;
  }

  /** Monotonic, unique message timestamps: "<seconds>.<6 digits>". */
  private nextTs(): string {
    const sec = Math.floor(this.now() / 1000);
    if (sec > this.lastTsSec) {
      this.lastTsSec = sec;
      this.lastTsMicro = 100;
    } else {
      this.lastTsMicro += 100;
      if (this.lastTsMicro > 999_999) {
        this.lastTsSec += 1;
        this.lastTsMicro = 100;
      }
    }
    return `${this.lastTsSec}.${String(this.lastTsMicro).padStart(6, '0')}`;
  }

  private imFor(userId: string): ChannelState {
    const id = `D${userId.slice(1)}`;
    let ch = this.channels.get(id);
    if (!ch) {
      ch = {
        id,
        name: userId,
        isPrivate: true,
        isIm: true,
        isMpim: false,
        imUser: userId,
        members: new Set([userId, this.botUserId]),
        botIsMember: true,
        isArchived: false,
        topic: '',
        purpose: '',
        created: Math.floor(this.now() / 1000),
        pins: [],
        messages: [],
        byTs: new Map(),
      };
      this.channels.set(id, ch);
    }
    return ch;
  }

  /** Channel by ID, '#name', name, or a user ID (the bot's DM with that user). */
  private lookupChannel(ref: string): ChannelState | undefined {
    const direct = this.channels.get(ref);
    if (direct) return direct;
    const name = ref.replace(/^#/, '');
    for (const ch of this.channels.values()) if (!ch.isIm && ch.name === name) return ch;
    if (this.users.has(ref)) return this.imFor(ref);
    return undefined;
  }

  /** For query helpers: unknown channels are a mistake in the test, not an empty channel. */
  private queryChannel(ref: string): ChannelState | undefined {
    const imId = this.users.has(ref) ? `D${ref.slice(1)}` : undefined;
    const ch = this.channels.get(ref) ?? (imId ? this.channels.get(imId) : undefined);
    if (ch) return ch;
    if (imId) return undefined;
    const byName = [...this.channels.values()].find((c) => !c.isIm && c.name === ref.replace(/^#/, ''));
    if (byName) return byName;
    throw new Error(`SlackEmulator: unknown channel ${ref}`);
  }

  private resolveChannel(ref: string | undefined, errorCode = 'channel_not_found'): ChannelState {
    if (ref === undefined || ref === '') throw new ApiError(errorCode);
    const ch = this.lookupChannel(ref);
    if (ch) {
      if (ch.isPrivate && !ch.isIm && !ch.botIsMember) throw new ApiError(errorCode);
      return ch;
    }
    if (this.autoCreateChannels && /^[CG][A-Z0-9]{2,}$/.test(ref)) {
      this.addChannel(ref, ref.toLowerCase(), { isPrivate: ref.startsWith('G') });
      return this.channels.get(ref)!;
    }
    throw new ApiError(errorCode);
  }

  private assertCanPost(ch: ChannelState): void {
    if (ch.isArchived) throw new ApiError('is_archived');
    if (!ch.botIsMember) throw new ApiError(ch.isPrivate ? 'channel_not_found' : 'not_in_channel');
  }

  private isMember(ch: ChannelState, user: string): boolean {
    if (!this.users.has(user)) return false;
    return ch.members ? ch.members.has(user) : true;
  }

  private userRef(id: string): { id: string; name: string; username: string; team_id: string } {
    const name = this.users.get(id)?.name ?? id.toLowerCase();
    return { id, name, username: name, team_id: this.teamId };
  }

  // ===========================================================================================
  // messages

  /** Slack gives blocks without a block_id (and elements without an action_id) generated ones. */
  private withIds(blocks: Block[]): Block[] {
    return blocks.map((b) => {
      const block: Block = { ...b, block_id: b.block_id ?? shortId() };
      const fill = (el: unknown): unknown =>
        isRecord(el) && el.type !== 'image' && typeof el.type === 'string' && !['plain_text', 'mrkdwn'].includes(el.type) && el.action_id === undefined
          ? { ...el, action_id: shortId() }
          : el;
      if (block.type === 'actions' && Array.isArray(block.elements)) block.elements = block.elements.map(fill);
      if (block.accessory !== undefined) block.accessory = fill(block.accessory);
      if (block.element !== undefined) block.element = fill(block.element);
      return block;
    });
  }

  private addMessage(
    ch: ChannelState,
    init: {
      user: string;
      text: string;
      blocks?: Block[];
      attachments?: Record<string, unknown>[];
      metadata?: Record<string, unknown>;
      files?: FileInfo[];
      thread_ts?: string;
      reply_broadcast?: boolean;
      source: MessageSource;
      bot: boolean;
    },
  ): EmulatedMessage {
    const ts = this.nextTs();
    let threadTs = init.thread_ts;
    if (threadTs !== undefined) {
      const target = ch.byTs.get(threadTs);
      if (target?.thread_ts !== undefined && target.thread_ts !== target.ts) threadTs = target.thread_ts;
      const parent = ch.byTs.get(threadTs);
      if (parent) {
        parent.thread_ts = parent.ts;
        parent.reply_count = (parent.reply_count ?? 0) + 1;
        parent.reply_users = [...new Set([...(parent.reply_users ?? []), init.user])];
        parent.latest_reply = ts;
      }
    }
    const msg: EmulatedMessage = {
      type: 'message',
      channel: ch.id,
      ts,
      user: init.user,
      text: init.text,
      deleted: false,
      source: init.source,
      history: [],
    };
    if (threadTs !== undefined) msg.thread_ts = threadTs;
    if (init.bot) {
      msg.bot_id = this.botId;
      msg.app_id = this.appId;
    }
    if (init.blocks && init.blocks.length > 0) msg.blocks = this.withIds(init.blocks);
    if (init.attachments && init.attachments.length > 0) msg.attachments = init.attachments;
    if (init.metadata) msg.metadata = init.metadata;
    if (init.files) msg.files = init.files;
    if (init.reply_broadcast) msg.reply_broadcast = true;
    ch.messages.push(msg);
    ch.byTs.set(ts, msg);
    this.emit('message', {
      channel: ch.id,
      ts,
      thread_ts: msg.thread_ts,
      user: msg.user,
      text: msg.text,
      blocks: clone(msg.blocks ?? []),
      files: msg.files ? clone(msg.files) : undefined,
      source: msg.source,
      message: clone(msg),
    });
    return msg;
  }

  private apiMessage(m: EmulatedMessage): Record<string, unknown> {
    const out: Record<string, unknown> = { type: 'message', user: m.user, text: m.text, ts: m.ts, team: this.teamId };
    if (m.bot_id) {
      out.bot_id = m.bot_id;
      out.app_id = m.app_id;
    }
    if (m.blocks) out.blocks = m.blocks;
    if (m.attachments) out.attachments = m.attachments;
    if (m.metadata) out.metadata = m.metadata;
    if (m.files) {
      out.files = m.files;
      out.upload = true;
    }
    if (m.thread_ts !== undefined) out.thread_ts = m.thread_ts;
    if (m.reply_broadcast) out.subtype = 'thread_broadcast';
    if (m.reply_count !== undefined) {
      out.reply_count = m.reply_count;
      out.reply_users = m.reply_users;
      out.reply_users_count = m.reply_users?.length ?? 0;
      out.latest_reply = m.latest_reply;
      out.is_locked = false;
    }
    if (m.edited) out.edited = m.edited;
    return clone(out);
  }

  private messageArgs(args: Args): { text?: string; blocks?: unknown; attachments?: unknown } {
    const blocks = jsonArg(args, 'blocks', 'invalid_blocks_format');
    const attachments = jsonArg(args, 'attachments', 'invalid_attachments');
    const text = str(args, 'text') ?? str(args, 'markdown_text');
    return { text, blocks, attachments };
  }

  private checkMessage(payload: { text?: string; blocks?: unknown; attachments?: unknown }, requireContent = true): void {
    const check = validateMessagePayload(payload, { requireContent });
    if (check.error) throw new ApiError(check.error, check.messages);
  }

  // ===========================================================================================
  // Web API methods

  private authTest(): Record<string, unknown> {
    return {
      url: `https://${this.teamDomain}.slack.com/`,
      team: this.teamDomain,
      user: this.users.get(this.botUserId)?.name ?? 'bot',
      team_id: this.teamId,
      user_id: this.botUserId,
      bot_id: this.botId,
      app_id: this.appId,
      is_enterprise_install: false,
    };
  }

  private chatPostMessage(args: Args): Record<string, unknown> {
    const ch = this.resolveChannel(nonEmpty(args, 'channel'));
    this.assertCanPost(ch);
    const payload = this.messageArgs(args);
    this.checkMessage(payload);
    const metadata = jsonArg(args, 'metadata', 'invalid_metadata_format');
    const msg = this.addMessage(ch, {
      user: this.botUserId,
      text: payload.text ?? '',
      blocks: payload.blocks as Block[] | undefined,
      attachments: payload.attachments as Record<string, unknown>[] | undefined,
      metadata: isRecord(metadata) ? metadata : undefined,
      thread_ts: nonEmpty(args, 'thread_ts'),
      reply_broadcast: bool(args, 'reply_broadcast'),
      source: 'api',
      bot: true,
    });
    return { channel: ch.id, ts: msg.ts, message: this.apiMessage(msg) };
  }

  private chatUpdate(args: Args): Record<string, unknown> {
    const ch = this.resolveChannel(nonEmpty(args, 'channel'));
    const ts = nonEmpty(args, 'ts');
    const m = ts === undefined ? undefined : ch.byTs.get(ts);
    if (!m || m.deleted) throw new ApiError('message_not_found');
    if (m.user !== this.botUserId) throw new ApiError('cant_update_message');
    const payload = this.messageArgs(args);
    if (payload.text === undefined && payload.blocks === undefined && payload.attachments === undefined) throw new ApiError('no_text');
    this.checkMessage(payload, false);
    const metadata = jsonArg(args, 'metadata', 'invalid_metadata_format');
    const previous = this.applyEdit(m, payload as { text?: string; blocks?: Block[]; attachments?: Record<string, unknown>[] }, 'api');
    if (isRecord(metadata)) m.metadata = metadata;
    this.emit('message_updated', {
      channel: ch.id,
      ts: m.ts,
      thread_ts: m.thread_ts,
      text: m.text,
      blocks: clone(m.blocks ?? []),
      previous: clone(previous),
      message: clone(m),
    });
    return { channel: ch.id, ts: m.ts, text: m.text, message: this.apiMessage(m) };
  }

  /**
   * Applies new content to a message as chat.update does: blocks are kept only when neither
   * blocks nor text is given; attachments are kept unless given; [] removes.
   */
  private applyEdit(
    m: EmulatedMessage | EphemeralMessage,
    payload: { text?: string; blocks?: Block[]; attachments?: Record<string, unknown>[] },
    by: 'api' | 'response_url',
  ): MessageVersion {
    const editTs = this.nextTs();
    const previous: MessageVersion = { text: m.text, replacedAt: editTs, replacedBy: by };
    if (m.blocks) previous.blocks = m.blocks;
    if (m.attachments) previous.attachments = m.attachments;
    if (payload.blocks !== undefined) {
      m.blocks = payload.blocks.length > 0 ? this.withIds(payload.blocks) : undefined;
    } else if (payload.text !== undefined) {
      m.blocks = undefined;
    }
    if (payload.text !== undefined) m.text = payload.text;
    if (payload.attachments !== undefined) m.attachments = payload.attachments.length > 0 ? payload.attachments : undefined;
    if (m.blocks === undefined) delete m.blocks;
    if (m.attachments === undefined) delete m.attachments;
    m.history.push(previous);
    if ('type' in m) m.edited = { user: this.botUserId, ts: editTs };
    return previous;
  }

  private chatDelete(args: Args): Record<string, unknown> {
    const ch = this.resolveChannel(nonEmpty(args, 'channel'));
    const ts = nonEmpty(args, 'ts');
    const m = ts === undefined ? undefined : ch.byTs.get(ts);
    if (!m || m.deleted) throw new ApiError('message_not_found');
    if (m.user !== this.botUserId) throw new ApiError('cant_delete_message');
    this.deleteMessage(ch, m);
    return { channel: ch.id, ts: m.ts };
  }

  private deleteMessage(ch: ChannelState, m: EmulatedMessage): void {
    m.deleted = true;
    if (m.thread_ts !== undefined && m.thread_ts !== m.ts) {
      const parent = ch.byTs.get(m.thread_ts);
      if (parent?.reply_count) parent.reply_count -= 1;
    }
    this.emit('message_deleted', { channel: ch.id, ts: m.ts, thread_ts: m.thread_ts });
  }

  private chatPostEphemeral(args: Args): Record<string, unknown> {
    const ch = this.resolveChannel(nonEmpty(args, 'channel'));
    this.assertCanPost(ch);
    const user = nonEmpty(args, 'user');
    if (user === undefined || !this.isMember(ch, user)) throw new ApiError('user_not_in_channel');
    const payload = this.messageArgs(args);
    this.checkMessage(payload);
    const eph = this.addEphemeral({
      channel: ch.id,
      user,
      text: payload.text ?? '',
      blocks: payload.blocks as Block[] | undefined,
      attachments: payload.attachments as Record<string, unknown>[] | undefined,
      thread_ts: nonEmpty(args, 'thread_ts'),
      source: 'api',
    });
    return { message_ts: eph.ts };
  }

  private addEphemeral(init: {
    channel: string;
    user: string;
    text: string;
    blocks?: Block[];
    attachments?: Record<string, unknown>[];
    thread_ts?: string;
    source: 'api' | 'response_url';
  }): EphemeralMessage {
    const eph: EphemeralMessage = {
      channel: init.channel,
      user: init.user,
      ts: this.nextTs(),
      text: init.text,
      source: init.source,
      deleted: false,
      history: [],
    };
    if (init.thread_ts !== undefined) eph.thread_ts = init.thread_ts;
    if (init.blocks && init.blocks.length > 0) eph.blocks = this.withIds(init.blocks);
    if (init.attachments && init.attachments.length > 0) eph.attachments = init.attachments;
    this.ephemeralList.push(eph);
    this.emitEphemeral(eph, false);
    return eph;
  }

  private emitEphemeral(eph: EphemeralMessage, replaced: boolean): void {
    this.emit('ephemeral', {
      channel: eph.channel,
      user: eph.user,
      ts: eph.ts,
      thread_ts: eph.thread_ts,
      text: eph.text,
      blocks: clone(eph.blocks ?? []),
      replaced,
      deleted: eph.deleted,
      ephemeral: clone(eph),
    });
  }

  private chatGetPermalink(args: Args): Record<string, unknown> {
    const ch = this.resolveChannel(nonEmpty(args, 'channel'));
    const ts = nonEmpty(args, 'message_ts');
    const m = ts === undefined ? undefined : ch.byTs.get(ts);
    if (!m) throw new ApiError('message_not_found');
    let permalink = `https://${this.teamDomain}.slack.com/archives/${ch.id}/p${m.ts.replace('.', '')}`;
    if (m.thread_ts !== undefined && m.thread_ts !== m.ts) permalink += `?thread_ts=${m.thread_ts}&cid=${ch.id}`;
    return { channel: ch.id, permalink };
  }

  // ----- conversations -----

  private apiChannel(ch: ChannelState): Record<string, unknown> {
    if (ch.isIm) {
      return { id: ch.id, created: ch.created, is_im: true, is_org_shared: false, user: ch.imUser, is_user_deleted: false, priority: 0 };
    }
    return {
      id: ch.id,
      name: ch.name,
      name_normalized: ch.name,
      is_channel: !ch.isMpim,
      is_group: false,
      is_im: false,
      is_mpim: ch.isMpim,
      is_private: ch.isPrivate,
      is_archived: ch.isArchived,
      is_general: false,
      is_shared: false,
      is_ext_shared: false,
      is_org_shared: false,
      is_member: ch.botIsMember,
      created: ch.created,
      creator: '',
      context_team_id: this.teamId,
      topic: { value: ch.topic, creator: '', last_set: 0 },
      purpose: { value: ch.purpose, creator: '', last_set: 0 },
      num_members: ch.members ? ch.members.size : [...this.users.values()].filter((u) => !u.isBot).length,
    };
  }

  private conversationsInfo(args: Args): Record<string, unknown> {
    const ch = this.resolveChannel(nonEmpty(args, 'channel'));
    return { channel: this.apiChannel(ch) };
  }

  private conversationsOpen(args: Args): Record<string, unknown> {
    const channel = nonEmpty(args, 'channel');
    if (channel !== undefined) return { channel: { id: this.resolveChannel(channel).id } };
    const users = (nonEmpty(args, 'users') ?? '').split(',').map((u) => u.trim()).filter((u) => u.length > 0);
    if (users.length === 0) throw new ApiError('users_list_not_supplied');
    for (const u of users) if (!this.users.has(u)) throw new ApiError('user_not_found');
    if (users.length === 1) {
      const existed = this.channels.has(`D${users[0]!.slice(1)}`);
      const ch = this.imFor(users[0]!);
      return { no_op: existed, already_open: existed, channel: bool(args, 'return_im') ? this.apiChannel(ch) : { id: ch.id } };
    }
    const key = [...users].sort().join(',');
    let h = 0;
    for (const c of key) h = (h * 33 + c.charCodeAt(0)) % 2_147_483_647;
    const id = `G${h.toString(36).toUpperCase().padStart(9, '0')}`;
    if (!this.channels.has(id)) {
      this.addChannel(id, `mpdm-${users.join('--')}-1`, { isPrivate: true, members: users });
      this.channels.get(id)!.isMpim = true;
    }
    return { channel: { id } };
  }

  private paginate<T>(items: T[], args: Args, defaultLimit: number): { page: T[]; has_more: boolean; next_cursor: string } {
    const limitArg = Number(str(args, 'limit') ?? defaultLimit);
    const limit = Number.isFinite(limitArg) && limitArg > 0 ? Math.min(limitArg, 1000) : defaultLimit;
    const cursor = nonEmpty(args, 'cursor');
    let offset = 0;
    if (cursor !== undefined) {
      const decoded = /^offset:(\d+)$/.exec(Buffer.from(cursor, 'base64').toString('utf8'));
      if (!decoded) throw new ApiError('invalid_cursor');
      offset = Number(decoded[1]);
    }
    const page = items.slice(offset, offset + limit);
    const more = offset + limit < items.length;
    return { page, has_more: more, next_cursor: more ? Buffer.from(`offset:${offset + limit}`).toString('base64') : '' };
  }

  private conversationsReplies(args: Args): Record<string, unknown> {
    const ch = this.resolveChannel(nonEmpty(args, 'channel'));
    const ts = nonEmpty(args, 'ts');
    const m = ts === undefined ? undefined : ch.byTs.get(ts);
    if (!m) throw new ApiError('thread_not_found');
    const parentTs = m.thread_ts !== undefined && m.thread_ts !== m.ts ? m.thread_ts : m.ts;
    const parent = ch.byTs.get(parentTs);
    const list = ch.messages.filter((x) => !x.deleted && (x.ts === parentTs || x.thread_ts === parentTs));
    if (parent && parent.deleted) list.unshift(parent);
    const { page, has_more, next_cursor } = this.paginate(list, args, DEFAULT_REPLIES_LIMIT);
    return {
      messages: page.map((x) => this.apiMessage(x)),
      has_more,
      response_metadata: { next_cursor },
    };
  }

  private conversationsHistory(args: Args): Record<string, unknown> {
    const ch = this.resolveChannel(nonEmpty(args, 'channel'));
    const oldest = Number(str(args, 'oldest') ?? 0);
    const latest = Number(str(args, 'latest') ?? Infinity);
    const list = ch.messages
      .filter((m) => !m.deleted && (m.thread_ts === undefined || m.thread_ts === m.ts || m.reply_broadcast))
      .filter((m) => Number(m.ts) >= oldest && Number(m.ts) <= latest)
      .reverse();
    const { page, has_more, next_cursor } = this.paginate(list, args, 100);
    return { messages: page.map((x) => this.apiMessage(x)), has_more, pin_count: ch.pins.length, response_metadata: { next_cursor } };
  }

  /** Channel names as Slack accepts them: lowercase letters, digits, dashes and underscores, at most 80. */
  private conversationsCreate(args: Args): Record<string, unknown> {
    const name = nonEmpty(args, 'name');
    if (name === undefined) throw new ApiError('invalid_name_required');
    if (name.length > 80) throw new ApiError('invalid_name_maxlength');
    if (!/^[a-z0-9_-]+$/.test(name)) throw new ApiError('invalid_name_specials');
    if ([...this.channels.values()].some((c) => !c.isIm && c.name === name)) throw new ApiError('name_taken');
    const isPrivate = bool(args, 'is_private');
    const id = randomId(isPrivate ? 'G' : 'C', 11);
    this.addChannel(id, name, { isPrivate, members: [], botIsMember: true });
    return { channel: this.apiChannel(this.channels.get(id)!) };
  }

  private conversationsInvite(args: Args): Record<string, unknown> {
    const ch = this.resolveChannel(nonEmpty(args, 'channel'));
    this.assertCanPost(ch);
    const users = (nonEmpty(args, 'users') ?? '').split(',').map((u) => u.trim()).filter((u) => u.length > 0);
    if (users.length === 0) throw new ApiError('no_user');
    if (users.length > 1000) throw new ApiError('too_many_users');
    for (const u of users) if (!this.users.has(u)) throw new ApiError('user_not_found');
    if (users.includes(this.botUserId)) throw new ApiError('cant_invite_self');
    const members = (ch.members ??= new Set());
    if (users.every((u) => members.has(u))) throw new ApiError('already_in_channel');
    for (const u of users) members.add(u);
    return { channel: this.apiChannel(ch) };
  }

  /** Slack keeps at most 250 characters of a topic. */
  private conversationsSetTopic(args: Args): Record<string, unknown> {
    const ch = this.resolveChannel(nonEmpty(args, 'channel'));
    this.assertCanPost(ch);
    const topic = str(args, 'topic') ?? '';
    if (topic.length > 250) throw new ApiError('too_long');
    ch.topic = topic;
    return { channel: this.apiChannel(ch) };
  }

  private pinsAdd(args: Args): Record<string, unknown> {
    const ch = this.resolveChannel(nonEmpty(args, 'channel'));
    this.assertCanPost(ch);
    const ts = nonEmpty(args, 'timestamp');
    const m = ts === undefined ? undefined : ch.byTs.get(ts);
    if (!m || m.deleted) throw new ApiError('message_not_found');
    if (ch.pins.includes(m.ts)) throw new ApiError('already_pinned');
    if (ch.pins.length >= 100) throw new ApiError('too_many_pins');
    ch.pins.push(m.ts);
    return {};
  }

  // ----- users & usergroups -----

  private apiUser(u: EmulatorUserInit): Record<string, unknown> {
    const realName = u.realName ?? u.name;
    return {
      id: u.id,
      team_id: this.teamId,
      name: u.name,
      deleted: u.deleted ?? false,
      real_name: realName,
      tz: u.tz ?? 'Etc/UTC',
      tz_label: 'Coordinated Universal Time',
      tz_offset: 0,
      is_admin: u.isAdmin ?? false,
      is_owner: false,
      is_primary_owner: false,
      is_restricted: false,
      is_ultra_restricted: false,
      is_bot: u.isBot ?? false,
      is_app_user: false,
      updated: 0,
      profile: {
        real_name: realName,
        real_name_normalized: realName,
        display_name: u.displayName ?? u.name,
        display_name_normalized: u.displayName ?? u.name,
        email: u.email,
        team: this.teamId,
        ...(u.isBot ? { bot_id: this.botId, api_app_id: this.appId } : {}),
      },
    };
  }

  private usersInfo(args: Args): Record<string, unknown> {
    const u = this.users.get(nonEmpty(args, 'user') ?? '');
    if (!u) throw new ApiError('user_not_found');
    return { user: this.apiUser(u) };
  }

  private usersLookupByEmail(args: Args): Record<string, unknown> {
    const email = (nonEmpty(args, 'email') ?? '').toLowerCase();
    const u = [...this.users.values()].find((x) => x.email?.toLowerCase() === email);
    if (!u) throw new ApiError('users_not_found');
    return { user: this.apiUser(u) };
  }

  private usergroupsUsersList(args: Args): Record<string, unknown> {
    const members = this.usergroups.get(nonEmpty(args, 'usergroup') ?? '');
    if (!members) throw new ApiError('no_such_subteam');
    return { users: [...members] };
  }

  // ----- views -----

  private takeTrigger(args: Args): TriggerState {
    const id = nonEmpty(args, 'trigger_id') ?? nonEmpty(args, 'interactivity_pointer');
    if (id === undefined) throw new ApiError('invalid_arguments', ['[ERROR] missing required field: trigger_id [json-pointer:/trigger_id]']);
    const trigger = this.triggers.get(id);
    if (!trigger) throw new ApiError('invalid_trigger_id');
    if (trigger.used) throw new ApiError('exchanged_trigger_id');
    if (this.now() > trigger.expiresAt) throw new ApiError('expired_trigger_id');
    return trigger;
  }

  private viewArg(args: Args, expected: 'modal' | 'home' | 'any'): Record<string, unknown> {
    const view = jsonArg(args, 'view', 'invalid_arguments');
    if (view === undefined) throw new ApiError('invalid_arguments', ['[ERROR] missing required field: view [json-pointer:/view]']);
    const errors = validateView(view, expected);
    if (errors.length > 0) throw new ApiError('invalid_arguments', errors);
    return view as Record<string, unknown>;
  }

  private assertExternalIdFree(raw: Record<string, unknown>, exceptViewId?: string): void {
    const ext = typeof raw.external_id === 'string' ? raw.external_id : '';
    if (ext === '') return;
    for (const v of this.viewsById.values()) {
      if (v.id !== exceptViewId && v.external_id === ext) throw new ApiError('duplicate_external_id');
    }
  }

  private newHash(): string {
    return `${Math.floor(this.now() / 1000)}.${randomBytes(4).toString('hex')}`;
  }

  private createView(raw: Record<string, unknown>, user: string | undefined, root: string | null, previous: string | null): EmulatedView {
    const id = randomId('V', 11);
    const view: EmulatedView = {
      id,
      type: raw.type === 'home' ? 'home' : 'modal',
      user,
      team_id: this.teamId,
      app_id: this.appId,
      bot_id: this.botId,
      callback_id: '',
      external_id: '',
      private_metadata: '',
      hash: '',
      blocks: [],
      root_view_id: root ?? id,
      previous_view_id: previous,
      clear_on_close: false,
      notify_on_close: false,
      raw: {},
      open: true,
      history: [],
    };
    this.fillView(view, raw);
    this.viewsById.set(id, view);
    return view;
  }

  private fillView(view: EmulatedView, raw: Record<string, unknown>): void {
    view.raw = clone(raw);
    view.type = raw.type === 'home' ? 'home' : 'modal';
    view.callback_id = typeof raw.callback_id === 'string' ? raw.callback_id : '';
    view.external_id = typeof raw.external_id === 'string' ? raw.external_id : '';
    view.private_metadata = typeof raw.private_metadata === 'string' ? raw.private_metadata : '';
    view.blocks = this.withIds((raw.blocks as Block[] | undefined) ?? []);
    view.clear_on_close = raw.clear_on_close === true;
    view.notify_on_close = raw.notify_on_close === true;
    for (const k of ['title', 'submit', 'close'] as const) {
      if (isRecord(raw[k])) view[k] = clone(raw[k]) as unknown as TextObject;
      else delete view[k];
    }
    view.hash = this.newHash();
    delete view.errors;
  }

  private replaceView(view: EmulatedView, raw: Record<string, unknown>): void {
    view.history.push({ view: clone(view.raw), hash: view.hash, replacedAt: this.now() });
    this.fillView(view, raw);
  }

  private apiView(v: EmulatedView): Record<string, unknown> & { id: string } {
    return clone({
      id: v.id,
      team_id: v.team_id,
      type: v.type,
      blocks: v.blocks,
      private_metadata: v.private_metadata,
      callback_id: v.callback_id,
      state: { values: {} },
      hash: v.hash,
      title: v.title ?? (v.type === 'home' ? { type: 'plain_text', text: 'View Title' } : undefined),
      clear_on_close: v.clear_on_close,
      notify_on_close: v.notify_on_close,
      close: v.close ?? null,
      submit: v.submit ?? null,
      previous_view_id: v.previous_view_id,
      root_view_id: v.root_view_id,
      app_id: v.app_id,
      external_id: v.external_id,
      app_installed_team_id: this.teamId,
      bot_id: v.bot_id,
    });
  }

  private pushView(raw: Record<string, unknown>, user: string | undefined): EmulatedView {
    const key = user ?? '';
    const stack = this.stacks.get(key) ?? [];
    if (stack.length >= MAX_VIEW_STACK) throw new ApiError('push_limit_reached');
    const view = this.createView(raw, user, stack[0] ?? null, stack.at(-1) ?? null);
    stack.push(view.id);
    this.stacks.set(key, stack);
    this.emit('view_pushed', { user, view: clone(view) });
    return view;
  }

  private viewsOpen(args: Args): Record<string, unknown> {
    const trigger = this.takeTrigger(args);
    const raw = this.viewArg(args, 'modal');
    this.assertExternalIdFree(raw);
    trigger.used = true;
    const key = trigger.user ?? '';
    for (const id of this.stacks.get(key) ?? []) this.viewsById.get(id)!.open = false;
    const view = this.createView(raw, trigger.user, null, null);
    this.stacks.set(key, [view.id]);
    this.emit('view_opened', { user: trigger.user, view: clone(view) });
    return { view: this.apiView(view) };
  }

  private viewsPush(args: Args): Record<string, unknown> {
    const trigger = this.takeTrigger(args);
    const raw = this.viewArg(args, 'modal');
    this.assertExternalIdFree(raw);
    const stack = this.stacks.get(trigger.user ?? '') ?? [];
    if (stack.length >= MAX_VIEW_STACK) throw new ApiError('push_limit_reached');
    trigger.used = true;
    const view = this.pushView(raw, trigger.user);
    return { view: this.apiView(view) };
  }

  private viewsUpdate(args: Args): Record<string, unknown> {
    const viewId = nonEmpty(args, 'view_id');
    const externalId = nonEmpty(args, 'external_id');
    if (viewId === undefined && externalId === undefined) {
      throw new ApiError('invalid_arguments', ['[ERROR] one of view_id or external_id is required [json-pointer:/view_id]']);
    }
    const view =
      viewId !== undefined ? this.viewsById.get(viewId) : [...this.viewsById.values()].find((v) => v.external_id === externalId);
    if (!view || (view.type === 'modal' && !view.open)) throw new ApiError('not_found');
    const hash = nonEmpty(args, 'hash');
    if (hash !== undefined && hash !== view.hash) throw new ApiError('hash_conflict');
    const raw = this.viewArg(args, view.type);
    this.assertExternalIdFree(raw, view.id);
    this.replaceView(view, raw);
    this.emit('view_updated', { user: view.user, view: clone(view) });
    return { view: this.apiView(view) };
  }

  private viewsPublish(args: Args): Record<string, unknown> {
    const user = nonEmpty(args, 'user_id');
    if (user === undefined || !this.users.has(user)) throw new ApiError('user_not_found');
    const raw = this.viewArg(args, 'home');
    const existingId = this.homeByUser.get(user);
    const existing = existingId ? this.viewsById.get(existingId) : undefined;
    const hash = nonEmpty(args, 'hash');
    if (hash !== undefined && existing && hash !== existing.hash) throw new ApiError('hash_conflict');
    this.assertExternalIdFree(raw, existing?.id);
    let view: EmulatedView;
    if (existing) {
      this.replaceView(existing, raw);
      view = existing;
    } else {
      view = this.createView(raw, user, null, null);
      this.homeByUser.set(user, view.id);
    }
    this.emit('home_published', { user, view: clone(view) });
    return { view: this.apiView(view) };
  }

  /** state.values for a view from plain values; `allInputs` adds every input block (empty ones as null). */
  private buildState(view: EmulatedView, values: Record<string, Record<string, unknown>>, allInputs: boolean): Record<string, Record<string, unknown>> {
    const state: Record<string, Record<string, unknown>> = {};
    if (allInputs) {
      for (const b of view.blocks) {
        if (b.type === 'input' && isRecord(b.element) && typeof b.element.action_id === 'string') {
          state[b.block_id!] = { [b.element.action_id]: stateValueFor(b.element, undefined) };
        }
      }
    }
    for (const [blockId, byAction] of Object.entries(values)) {
      const block = view.blocks.find((b) => b.block_id === blockId);
      if (!block) throw new Error(`no block ${blockId} in view ${view.id}`);
      for (const [actionId, value] of Object.entries(byAction)) {
        const found = findElement([block], actionId);
        if (!found) throw new Error(`no element ${actionId} in block ${blockId} of view ${view.id}`);
        state[blockId] = { ...state[blockId], [actionId]: stateValueFor(found.element, value) };
      }
    }
    return state;
  }

  // ----- files -----

  private fileInfo(f: EmulatedFile): FileInfo {
    return {
      id: f.id,
      name: f.name,
      title: f.title,
      mimetype: f.mimetype,
      filetype: f.filetype,
      size: f.size,
      user: f.user,
      created: f.created,
      url_private: f.url_private,
    };
  }

  private copyFile(f: EmulatedFile): EmulatedFile {
    const { content, ...rest } = f;
    const copy: EmulatedFile = clone(rest);
    if (content) copy.content = Buffer.from(content);
    return copy;
  }

  private filesGetUploadUrl(args: Args): Record<string, unknown> {
    const filename = nonEmpty(args, 'filename');
    if (filename === undefined) throw new ApiError('invalid_arguments', ['[ERROR] missing required field: filename [json-pointer:/filename]']);
    const lengthText = str(args, 'length');
    const length = Number(lengthText);
    if (lengthText === undefined || !Number.isInteger(length) || length < 0) {
      throw new ApiError('invalid_arguments', ['[ERROR] missing required field: length [json-pointer:/length]']);
    }
    if (length === 0) throw new ApiError('missing_argument');
    const id = randomId('F', 11);
    const { filetype, mimetype } = fileTypeOf(filename);
    const file: EmulatedFile = {
      id,
      name: filename,
      title: filename,
      mimetype,
      filetype,
      size: length,
      declaredLength: length,
      user: this.botUserId,
      created: Math.floor(this.now() / 1000),
      url_private: `${this.baseUrl}/files/${id}/${encodeURIComponent(filename)}`,
      completed: false,
      shares: [],
    };
    const altText = str(args, 'alt_txt') ?? str(args, 'alt_text');
    if (altText !== undefined) file.alt_text = altText;
    const snippet = str(args, 'snippet_type');
    if (snippet !== undefined) file.snippet_type = snippet;
    this.filesById.set(id, file);
    const token = randomBytes(16).toString('hex');
    this.uploads.set(token, id);
    return { upload_url: `${this.baseUrl}/upload/v1/${token}`, file_id: id };
  }

  private async handleUpload(token: string, req: IncomingMessage, res: ServerResponse, raw: Buffer): Promise<void> {
    const fileId = this.uploads.get(token);
    const args: Args = { upload_token: token, file_id: fileId };
    const fault = this.takeFault('file_upload', false);
    if (fault && this.answerFault(fault, 'file_upload', args, res)) return;
    const file = fileId ? this.filesById.get(fileId) : undefined;
    if (req.method !== 'POST' || !file) {
      const status = req.method !== 'POST' ? 405 : 404;
      this.record('file_upload', args, status, { ok: false, error: status === 405 ? 'method_not_allowed' : 'not_found' });
      sendText(res, status, status === 405 ? 'method_not_allowed' : 'not_found');
      return;
    }
    const bytes = await uploadedBytes(req, raw);
    file.content = bytes;
    file.size = bytes.length;
    this.record('file_upload', { ...args, filename: file.name, bytes: bytes.length }, 200, { ok: true, size: bytes.length }, fault);
    await this.holdAnswer(fault);
    sendText(res, 200, `OK - ${bytes.length}`);
  }

  private handleFileDownload(rest: string, req: IncomingMessage, res: ServerResponse): void {
    const id = rest.split('/')[0] ?? '';
    const file = this.filesById.get(id);
    if (req.headers.authorization !== `Bearer ${this.botToken}` || !file?.content) {
      sendText(res, 404, 'not_found');
      return;
    }
    res.writeHead(200, { 'content-type': file.mimetype, 'content-length': file.content.length });
    res.end(file.content);
  }

  private filesComplete(args: Args): Record<string, unknown> {
    const list = jsonArg(args, 'files', 'invalid_arguments');
    if (!Array.isArray(list) || list.length === 0) {
      throw new ApiError('invalid_arguments', ['[ERROR] missing required field: files [json-pointer:/files]']);
    }
    const files = list.map((entry) => {
      const id = isRecord(entry) && typeof entry.id === 'string' ? entry.id : undefined;
      const file = id ? this.filesById.get(id) : undefined;
      if (!file || file.completed || file.content === undefined) throw new ApiError('file_not_found');
      return { file, title: isRecord(entry) && typeof entry.title === 'string' ? entry.title : undefined };
    });
    const channelRef = nonEmpty(args, 'channel_id') ?? nonEmpty(args, 'channels');
    const ch = channelRef !== undefined ? this.resolveChannel(channelRef, 'invalid_channel') : undefined;
    if (ch) this.assertCanPost(ch);
    const blocks = jsonArg(args, 'blocks', 'invalid_blocks_format');
    const initialComment = str(args, 'initial_comment');
    if (blocks !== undefined || initialComment !== undefined) this.checkMessage({ text: initialComment, blocks }, false);
    for (const { file, title } of files) {
      file.completed = true;
      if (title !== undefined && title !== '') file.title = title;
    }
    if (ch) {
      const msg = this.addMessage(ch, {
        user: this.botUserId,
        text: initialComment ?? '',
        blocks: blocks as Block[] | undefined,
        files: files.map(({ file }) => this.fileInfo(file)),
        thread_ts: nonEmpty(args, 'thread_ts'),
        source: 'file_upload',
        bot: true,
      });
      for (const { file } of files) {
        file.shares.push(msg.thread_ts !== undefined && msg.thread_ts !== msg.ts ? { channel: ch.id, ts: msg.ts, thread_ts: msg.thread_ts } : { channel: ch.id, ts: msg.ts });
      }
      this.emit('file_shared', {
        channel: ch.id,
        ts: msg.ts,
        thread_ts: msg.thread_ts,
        files: files.map(({ file }) => this.copyFile(file)),
      });
    }
    return { files: files.map(({ file }) => ({ ...this.fileInfo(file), shares: clone(file.shares) })) };
  }

  private filesInfo(args: Args): Record<string, unknown> {
    const file = this.filesById.get(nonEmpty(args, 'file') ?? '');
    if (!file || !file.completed) throw new ApiError('file_not_found');
    return { file: { ...this.fileInfo(file), shares: clone(file.shares) } };
  }

  // ----- response URLs -----

  private async handleResponseUrl(id: string, req: IncomingMessage, res: ServerResponse, raw: Buffer): Promise<void> {
    let payload: Record<string, unknown> = {};
    let parseFailed = false;
    try {
      const text = raw.toString('utf8');
      const parsed: unknown = text.startsWith('payload=') ? JSON.parse(new URLSearchParams(text).get('payload') ?? '') : JSON.parse(text);
      if (isRecord(parsed)) payload = parsed;
      else parseFailed = true;
    } catch {
      parseFailed = true;
    }
    const args: Args = { response_url_id: id, ...payload };
    const fault = this.takeFault('response_url', false);
    if (fault && this.answerFault(fault, 'response_url', args, res)) return;
    const fail = (status: number, error: string, messages: string[] = []): void => {
      const body: Record<string, unknown> = { ok: false, error };
      if (messages.length > 0) body.response_metadata = { messages };
      this.record('response_url', args, status, body, fault);
      sendJson(res, status, body);
    };
    if (req.method !== 'POST') return fail(405, 'method_not_allowed');
    const entry = this.responseUrls.get(id);
    if (!entry) return fail(404, 'invalid_url');
    if (this.now() > entry.expiresAt) return fail(404, 'expired_url');
    if (entry.uses >= this.responseUrlMaxUses) return fail(404, 'used_url');
    if (parseFailed) return fail(400, 'invalid_payload');

    const deleteOriginal = payload.delete_original === true || payload.delete_original === 'true';
    const replaceOriginal = payload.replace_original === true || payload.replace_original === 'true';
    const content = {
      text: typeof payload.text === 'string' ? payload.text : undefined,
      blocks: payload.blocks,
      attachments: payload.attachments,
    };
    if (!deleteOriginal) {
      const check = validateMessagePayload(content);
      if (check.error) return fail(400, check.error, check.messages);
    }
    entry.uses += 1;
    this.applyResponse(entry, payload, content as { text?: string; blocks?: Block[]; attachments?: Record<string, unknown>[] }, deleteOriginal, replaceOriginal);
    const body = { ok: true };
    this.record('response_url', args, 200, body, fault);
    await this.holdAnswer(fault);
    sendJson(res, 200, body);
  }

  private applyResponse(
    entry: ResponseUrlState,
    payload: Record<string, unknown>,
    content: { text?: string; blocks?: Block[]; attachments?: Record<string, unknown>[] },
    deleteOriginal: boolean,
    replaceOriginal: boolean,
  ): void {
    const ch = this.channels.get(entry.channel)!;
    const originalEph =
      entry.messageTs !== undefined ? this.ephemeralList.find((e) => e.ts === entry.messageTs && e.channel === ch.id && !e.deleted) : undefined;
    const originalMsg = !originalEph && entry.messageTs !== undefined ? ch.byTs.get(entry.messageTs) : undefined;
    const original = originalEph ?? (originalMsg && !originalMsg.deleted ? originalMsg : undefined);

    if (deleteOriginal) {
      if (originalEph) {
        originalEph.deleted = true;
        this.emitEphemeral(originalEph, false);
      } else if (originalMsg && !originalMsg.deleted) {
        this.deleteMessage(ch, originalMsg);
      }
      return;
    }
    if (replaceOriginal && original) {
      const previous = this.applyEdit(original, content, 'response_url');
      if (originalEph) {
        this.emitEphemeral(originalEph, true);
      } else if (originalMsg) {
        this.emit('message_updated', {
          channel: ch.id,
          ts: originalMsg.ts,
          thread_ts: originalMsg.thread_ts,
          text: originalMsg.text,
          blocks: clone(originalMsg.blocks ?? []),
          previous: clone(previous),
          message: clone(originalMsg),
        });
      }
      return;
    }
    const threadTs = typeof payload.thread_ts === 'string' && payload.thread_ts !== '' ? payload.thread_ts : entry.threadTs;
    if (payload.response_type === 'in_channel') {
      this.addMessage(ch, {
        user: this.botUserId,
        text: content.text ?? '',
        blocks: content.blocks,
        attachments: content.attachments,
        thread_ts: threadTs,
        source: 'response_url',
        bot: true,
      });
    } else {
      this.addEphemeral({
        channel: ch.id,
        user: entry.user,
        text: content.text ?? '',
        blocks: content.blocks,
        attachments: content.attachments,
        thread_ts: threadTs,
        source: 'response_url',
      });
    }
  }
}

/** Stops accepting connections and drops the open ones. */
function stopListening(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
