/**
 * The transport-free brain: commands, button clicks and form submissions arrive here from any
 * receiver (HTTP, Socket Mode, console) and leave through a Surface. It owns the guards:
 * RBAC, channel limits, confirmations, approvals bound to their plan, and auditing.
 */
import ms from 'ms';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { Metrics } from '../metrics.ts';
import type { Reply, Part } from './result.ts';
import { errorReply, reply } from './result.ts';
import type { ActionContext, Actor, Args, AuditLog, Choice, Clients, CommandContext, JobDefinition, JobLauncher, JobRun, Operation, OperationContext, OperationStage, Plan, Role, SecretBox, Verb } from './types.ts';
import { UsageError, UserFacingError } from './types.ts';
import type { ModalSpec, Surface } from './surface.ts';
import type { Registry } from './registry.ts';
import { closestVerb, resolveVerb, roleAtLeast, usageHint, verbName } from './registry.ts';
import { checkArgs, parseArgs, tokenize } from './args.ts';
import { ownValue } from './keys.ts';
import type { RoleResolver } from './rbac.ts';
import { describeUnread } from './rbac.ts';
import type { PendingRequest, PendingStore } from './pending.ts';
import { inspectAndPlan, planHash } from './operation.ts';
import { retryAfterMs } from './thread.ts';

export const CONFIRM_TTL_MS = 10 * 60_000;
import { APPROVAL_EXPIRY_JOB } from './approvals.ts';
import type { Mrkdwn, Text } from './text.ts';
import { channelRef, groupMention, joinText, md, mention, plainText, slackDate, storedMrkdwn, toMrkdwn } from './text.ts';
import { APPROVAL_ESCALATION_JOB, approverIds, approverMentions, escalationMentions, mentionsOf, sendDirect, verbApprovals, type DirectMessage, type Grant } from './paging.ts';
import { TargetGoneError } from './gone.ts';
import { BREAK_GLASS_REMINDER_JOB, type BreakGlassReview, type BreakGlassReviews } from './break-glass.ts';

export interface DispatcherDeps {
  config: Config;
  registry: Registry;
  roles: RoleResolver;
  pending: PendingStore;
  reviews: BreakGlassReviews;
  jobs: JobLauncher;
  audit: AuditLog;
  metrics: Metrics;
  clients: Clients;
  secrets: SecretBox;
  log: Logger;
}

export interface CommandInput {
  text: string;
  userId: string;
  channelId: string;
}

export interface ActionInput {
  actionId: string;
  value: string;
  userId: string;
  channelId: string;
  message?: { ts: string; threadTs?: string };
}

export interface ViewInput {
  callbackId: string;
  metadata: string;
  values: Record<string, string>;
  userId: string;
}

/** Field errors shown in the modal (Slack's response_action: errors). */
export type ViewErrors = Record<string, string> | undefined;

export class Dispatcher {
  constructor(private readonly deps: DispatcherDeps) {}

  // ---- slash commands -------------------------------------------------------------------

  async command(input: CommandInput, surface: Surface): Promise<void> {
    let words: string[];
    try {
      words = tokenize(input.text.trim());
    } catch (error) {
      return this.rejectInput(input, surface, (error as Error).message, undefined);
    }
    const actor = await this.actor(input.userId);
    if (words.length === 0 || words[0]!.toLowerCase() === 'help') {
      const helpVerb = resolveVerb(this.deps.registry, ['help']);
      if (helpVerb) return this.runVerb(helpVerb.verb, words.slice(1), actor, input, surface);
    }
    const resolved = resolveVerb(this.deps.registry, words);
    if (!resolved) {
      const suggestion = closestVerb(this.deps.registry, words);
      const typed = words.slice(0, 2).join(' ');
      return this.rejectInput(input, surface, `Unknown command \`${typed}\`.${suggestion ? ` Did you mean \`/autostack ${suggestion}\`?` : ''}`, 'Type `/autostack help` for the list of commands.');
    }
    return this.runVerb(resolved.verb, resolved.rest, actor, input, surface);
  }

  private async runVerb(verb: Verb<unknown>, rest: string[], actor: Actor, input: CommandInput, surface: Surface): Promise<void> {
    const name = verbName(verb);
    if (!(await this.permitted(verb, actor, input.channelId, surface))) return;
    if (verb.form && rest.length === 0) {
      return surface.openModal(this.formModal(verb, input.channelId));
    }
    if (verb.picker && rest.length === 0 && ((verb.positional?.min ?? 0) > 0 || verb.picker.whenOmitted?.(this.deps.config))) {
      return this.openPicker(verb, actor, input, surface);
    }
    let args: Args;
    try {
      args = parseArgs(rest, verb);
    } catch (error) {
      return this.rejectInput(input, surface, (error as Error).message, usageHint(verb), name);
    }
    return this.runParsed(verb, args, actor, input.channelId, surface);
  }

  private async runParsed(verb: Verb<unknown>, args: Args, actor: Actor, channel: string, surface: Surface): Promise<void> {
    const name = verbName(verb);
    let params: unknown;
    try {
      params = verb.parse(args, { config: this.deps.config, actor });
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      return this.rejectInput({ text: name, userId: actor.id, channelId: channel }, surface, error.message, usageHint(verb), name);
    }
    const ctx = this.context(actor, channel);
    const auditArgs = { args: args.positional, flags: args.flags };
    try {
      if (verb.guard === 'none') {
        const result = await verb.execute!(params, ctx);
        await this.deliver(result, channel, surface);
        await this.record(actor.id, name, result.error ? 'error' : 'ok', channel, auditArgs, result.error ? result.summary : undefined, surface);
        return;
      }
      const { plan, hash } = await inspectAndPlan(name, verb.operation!, params, this.operationContext(actor, channel, 'request'));
      const request = await this.ask(verb, params, plan, hash, actor, channel, surface);
      if (request.kind === 'confirm') {
        await this.record(actor.id, name, 'confirmation asked', channel, auditArgs, undefined, surface);
      } else {
        await surface.ephemeral(reply(this.askedLine(request)));
        await this.record(actor.id, name, 'approval requested', channel, auditArgs, request.id, surface);
      }
    } catch (error) {
      await this.failed(error, actor.id, name, channel, surface, auditArgs);
    }
  }

  // ---- buttons --------------------------------------------------------------------------

  async action(input: ActionInput, surface: Surface): Promise<void> {
    const actor = await this.actor(input.userId);
    switch (input.actionId) {
      case 'approval.approve':
      case 'approval.reject':
        return this.decideApproval(input, actor, surface, input.actionId === 'approval.approve' ? 'approved' : 'rejected');
      case 'confirm.run':
      case 'confirm.cancel':
        return this.decideConfirm(input, actor, surface, input.actionId === 'confirm.run');
      case 'approval.breakglass':
        return this.offerBreakGlass(input.value, actor, surface);
      case 'breakglass.ack':
        return this.acknowledgeReview(input.value, actor, surface);
    }
    const handler = this.deps.registry.actions.get(input.actionId);
    if (!handler) return surface.ephemeral(errorReply('This button is no longer supported.'));
    if (!roleAtLeast(actor.role, handler.minRole)) return this.deny(actor, input.actionId, input.channelId, surface, handler.minRole);
    const stepOf = typeof handler.stepOf === 'function' ? handler.stepOf(input.value) : handler.stepOf;
    if (stepOf) {
      const verb = this.verbNamed(stepOf.join(' '));
      if (!verb) throw new Error(`button ${handler.action}: no verb ${stepOf.join(' ')}`);
      if (!(await this.permitted(verb, actor, input.channelId, surface))) return;
    }
    const ctx: ActionContext = {
      ...this.context(actor, input.channelId),
      message: input.message && { channel: input.channelId, ...input.message },
      request: async (path, args) => {
        const verb = this.verbNamed(path.join(' '));
        if (!verb) throw new Error(`no verb ${path.join(' ')}`);
        if (!(await this.permitted(verb, actor, input.channelId, surface))) return;
        try {
          checkArgs(args, verb);
        } catch (error) {
          return this.rejectInput({ text: verbName(verb), userId: actor.id, channelId: input.channelId }, surface, (error as Error).message, usageHint(verb), verbName(verb));
        }
        await this.runParsed(verb, args, actor, input.channelId, surface);
      },
    };
    try {
      const result = await handler.handle(input.value, ctx);
      if (result) await this.deliver(result, input.channelId, surface);
      await this.record(actor.id, `button ${input.actionId}`, result?.error ? 'error' : 'ok', input.channelId, { value: input.value });
    } catch (error) {
      await this.failed(error, actor.id, `button ${input.actionId}`, input.channelId, surface, { value: input.value });
    }
  }

  private async decideConfirm(input: ActionInput, actor: Actor, surface: Surface, run: boolean): Promise<void> {
    const request = await this.deps.pending.get(input.value);
    if (!request || request.kind !== 'confirm') return surface.ephemeral(errorReply('This confirmation no longer exists; run the command again.'));
    if (request.requester !== actor.id) return surface.ephemeral(errorReply('Only the person who ran the command can confirm it.'));
    // Running decides atomically after re-planning; cancelling decides here.
    if (run) return this.executeApproved(request, actor, surface);
    const outcome = await this.deps.pending.decide(request.id, 'rejected', actor.id, this.now());
    if (outcome === 'expired') return surface.ephemeral(errorReply('This confirmation expired; run the command again.'));
    if (outcome !== 'ok') return surface.ephemeral(errorReply(`Already ${outcome}.`));
    await this.record(actor.id, request.verb, 'cancelled', request.channel);
    await surface.ephemeral(reply(`Cancelled \`${request.verb}\`; nothing was done.`));
  }

  private async decideApproval(input: ActionInput, actor: Actor, surface: Surface, decision: 'approved' | 'rejected', typedValue?: string): Promise<void> {
    const request = await this.deps.pending.get(input.value);
    if (!request || request.kind !== 'approval') return surface.ephemeral(errorReply('This approval request no longer exists.'));
    const verb = this.verbNamed(request.verb);
    if (!roleAtLeast(actor.role, 'approver')) return this.deny(actor, `approve ${request.verb}`, request.channel, surface, 'approver');
    if (request.requester === actor.id && decision === 'approved') {
      await this.record(actor.id, `approve ${request.verb}`, 'denied: own request', request.channel, undefined, request.id);
      this.deps.metrics.denials.inc({ verb: request.verb });
      return surface.ephemeral(errorReply('You cannot approve your own request: another approver must.'));
    }
    if (request.status === 'pending' && request.expiresAt < this.now()) {
      await this.expire(request);
      return surface.ephemeral(errorReply('This request expired; ask for it again.'));
    }
    if (request.status !== 'pending') {
      return surface.ephemeral(errorReply(md`This request was already ${request.status}${request.decidedBy ? md` by ${mention(request.decidedBy)}` : ''}.`));
    }
    if (decision === 'approved' && verb?.approverMustType && typedValue === undefined) {
      const params = this.openParams(request);
      const expected = verb.approverMustType(params);
      return surface.openModal({
        callbackId: 'approval.typed',
        title: 'Confirm approval',
        submit: 'Approve',
        metadata: request.id,
        intro: `To approve \`${request.verb}\`, type *${expected.expected}* below.`,
        fields: [{ name: 'typed', label: expected.label }],
      });
    }
    if (decision === 'rejected') {
      const outcome = await this.deps.pending.decide(request.id, 'rejected', actor.id, this.now());
      if (outcome !== 'ok') return surface.ephemeral(errorReply(`This request was already ${outcome}.`));
      this.deps.metrics.approvals.inc({ verb: request.verb, decision: 'rejected' });
      await this.record(actor.id, `reject ${request.verb}`, 'rejected', request.channel, undefined, request.id);
      await this.refreshApprovalMessage({ ...request, status: 'rejected', decidedBy: actor.id, decidedAt: this.now() });
      return;
    }
    await this.executeApproved(request, actor, surface);
  }

  /**
   * Inspects and plans again, decides atomically, then starts the operation (its job checks the
   * plan once more when it starts; an inline operation runs here with what was just inspected).
   * A changed plan is asked again instead.
   */
  private async executeApproved(request: PendingRequest, decider: Actor, surface: Surface, breakGlass?: string): Promise<void> {
    const verb = this.verbNamed(request.verb);
    if (!verb?.operation) return surface.ephemeral(errorReply(`The command \`${request.verb}\` no longer exists.`));
    const operation = verb.operation;
    const params = this.openParams(request);
    const requester = await this.actor(request.requester);
    const ctx = this.context(requester, request.channel);
    let checked: Awaited<ReturnType<typeof inspectAndPlan>>;
    try {
      checked = await inspectAndPlan(request.verb, operation, params, this.operationContext(requester, request.channel, 'decision'));
    } catch (error) {
      if (error instanceof TargetGoneError) return this.closeGone(request, decider, error.text, surface);
      return this.failed(error, decider.id, request.verb, request.channel, surface);
    }
    const changed = checked.hash !== request.planHash;
    const outcome = await this.deps.pending.decide(request.id, changed ? 'superseded' : 'approved', decider.id, this.now());
    if (outcome === 'expired') {
      await this.refreshApprovalMessage({ ...request, status: 'expired' });
      return surface.ephemeral(errorReply('This request expired; ask for it again.'));
    }
    if (outcome !== 'ok') return surface.ephemeral(errorReply(`This request was already ${outcome}.`));
    const decided = { ...request, status: changed ? ('superseded' as const) : ('approved' as const), decidedBy: decider.id, decidedAt: this.now(), ...(breakGlass && !changed ? { breakGlass } : {}) };
    if (breakGlass && !changed) await this.deps.pending.annotate(request.id, { breakGlass });
    if (request.kind === 'approval') await this.refreshApprovalMessage(decided);
    if (changed) {
      await this.record(decider.id, request.verb, 'plan changed: superseded', request.channel, undefined, request.id);
      await this.requestAgain(verb, params, requester, request.channel, surface, checked.plan, checked.hash, decider.id);
      return;
    }
    if (breakGlass) {
      this.deps.metrics.approvals.inc({ verb: request.verb, decision: 'break-glass' });
      await this.record(decider.id, `break-glass ${request.verb}`, 'BREAK-GLASS: run without approval', request.channel, undefined, `${request.id}; reason: ${breakGlass}`, surface);
    } else {
      if (request.kind === 'approval') this.deps.metrics.approvals.inc({ verb: request.verb, decision: 'approved' });
      await this.record(decider.id, request.kind === 'approval' ? `approve ${request.verb}` : request.verb, request.kind === 'approval' ? 'approved' : 'confirmed', request.channel, undefined, request.id);
    }
    try {
      const result = operation.inline
        ? await operation.run(params, checked.seen, this.inlineRun(request, params, ctx))
        : await this.startOperation(request, verb, operation, params, ctx);
      await this.deliver(result, request.channel, surface);
      await this.record(requester.id, request.verb, result.error ? 'error' : operation.inline ? 'ok' : 'started', request.channel, undefined, request.id);
    } catch (error) {
      await this.failed(error, requester.id, request.verb, request.channel, surface);
    }
    // Opened whether or not the start succeeded: the glass was broken either way.
    if (breakGlass) await this.openReview(request, breakGlass);
  }

  // ---- break glass ----------------------------------------------------------------------

  /** Why `actor` may not break glass on `request`, or undefined when they may. */
  private async breakGlassRefusal(request: PendingRequest | undefined, actor: Actor): Promise<Text | undefined> {
    if (!request || request.kind !== 'approval') return 'This approval request no longer exists.';
    if (!verbApprovals(this.deps.config, request.verb).breakGlass) return `Break glass is not allowed for \`${request.verb}\` (approvals.verbs."${request.verb}".breakGlass is off): an approver must approve it.`;
    if (request.requester !== actor.id) return md`Only ${mention(request.requester)}, who asked, can break glass on this request; approvers approve it instead.`;
    if (request.status !== 'pending') return `This request was already ${request.status}.`;
    if (request.expiresAt < this.now()) return 'This request expired; ask for it again.';
    const oncall = this.deps.config.approvals.breakGlass.oncall;
    if (!(await this.deps.roles.inGrant(oncall, actor.id))) {
      return md`Only people on call can break glass (approvals.breakGlass.oncall: ${listOr(mentionsOf(oncall), 'nobody is configured')}), and you are not among them. An approver must approve it.`;
    }
    return undefined;
  }

  /** The name the requester must type to break glass: what the approver would type, else the plan's first resource. */
  private breakGlassTarget(request: PendingRequest): string {
    const verb = this.verbNamed(request.verb);
    const typed = verb?.approverMustType?.(this.openParams(request)).expected;
    if (typed) return typed;
    const plan = JSON.parse(request.plan) as Plan;
    return plan.resources[0] ?? request.verb;
  }

  private async offerBreakGlass(id: string, actor: Actor, surface: Surface): Promise<void> {
    const request = await this.deps.pending.get(id);
    const verb = request && this.verbNamed(request.verb);
    if (request && verb && !(await this.permitted(verb, actor, request.channel, surface))) return;
    const refusal = await this.breakGlassRefusal(request, actor);
    if (refusal) {
      await this.record(actor.id, `break-glass ${request?.verb ?? 'unknown request'}`, 'denied', request?.channel ?? '', undefined, plainText(refusal));
      this.deps.metrics.denials.inc({ verb: `break-glass ${request?.verb ?? ''}` });
      return surface.ephemeral(errorReply(refusal));
    }
    const target = this.breakGlassTarget(request!);
    return surface.openModal({
      callbackId: 'approval.breakglass',
      title: 'Break glass',
      submit: 'Run it alone',
      metadata: request!.id,
      intro: `:rotating_light: You are about to run \`${request!.verb}\` *without an approval*. It is marked BREAK-GLASS in the channel and the audit trail, the approvers are told, and an approver must review it afterwards.`,
      fields: [
        { name: 'reason', label: 'Why it cannot wait for an approver', multiline: true },
        { name: 'target', label: `Type the target's name: ${target}` },
      ],
    });
  }

  /** The break-glass modal was submitted: field errors, or the same plan-bound run as an approval. */
  private async submitBreakGlass(input: ViewInput, actor: Actor, surface: Surface): Promise<ViewErrors> {
    const request = await this.deps.pending.get(input.metadata);
    const refusal = await this.breakGlassRefusal(request, actor);
    if (refusal) return { reason: plainText(refusal) };
    const reason = (input.values.reason ?? '').trim().replace(/\s+/g, ' ');
    if (reason.length < 10) return { reason: 'Give the reason in a few words (at least 10 characters): it goes into the audit trail and the review.' };
    if (reason.length > 500) return { reason: 'Keep the reason under 500 characters.' };
    const target = this.breakGlassTarget(request!);
    if ((input.values.target ?? '').trim() !== target) return { target: `Type exactly ${target} to run it alone.` };
    void this.track(() => this.executeApproved(request!, actor, surface.inChannel(request!.channel), reason));
    return undefined;
  }

  /** Opens the review an approver must acknowledge, and its first reminder. */
  private async openReview(request: PendingRequest, reason: string): Promise<void> {
    const review: BreakGlassReview = { id: request.id, verb: request.verb, requester: request.requester, reason, channel: request.channel, at: this.now(), reminders: 0 };
    await this.deps.reviews.open(review);
    try {
      const ts = await this.deps.clients.notify.post(request.channel, reviewView(review, approverMentions(this.deps.config)));
      if (ts) await this.deps.reviews.setMessage(review.id, ts);
    } catch (error) {
      this.deps.log.error({ err: (error as Error).message, review: review.id }, 'break-glass review could not be posted');
    }
    await this.scheduleReminder(review.id, 1, request.requester);
    await this.record(request.requester, `break-glass ${request.verb}`, 'review opened', request.channel, undefined, request.id);
  }

  private async scheduleReminder(id: string, n: number, requestedBy: string): Promise<void> {
    const delayMs = ms(this.deps.config.approvals.breakGlass.remindEvery as ms.StringValue);
    await this.deps.jobs.start(BREAK_GLASS_REMINDER_JOB, { id, n }, { channel: '', requestedBy, delayMs, jobId: `bg-remind-${id}-${n}` });
  }

  /** Called by the reminder job: reminds an unacknowledged review in its thread and schedules the next reminder. */
  async remindReview(id: string, n: number): Promise<void> {
    const review = await this.deps.reviews.get(id);
    if (!review || review.acknowledgedBy) return;
    const text = md`:bell: Reminder ${n}: ${listOr(approverMentions(this.deps.config), 'approvers', ' ')}, the BREAK-GLASS run of \`${review.verb}\` by ${mention(review.requester)} at ${formatTime(review.at)} is not reviewed yet. Acknowledge it on the review message.`;
    if (review.messageTs) {
      await this.deps.clients.notify
        .post(review.channel, text, { threadTs: review.messageTs })
        .catch((error: Error) => this.deps.log.warn({ err: error.message, review: id }, 'break-glass reminder not posted'));
    }
    await this.deps.reviews.reminded(id);
    await this.scheduleReminder(id, n + 1, review.requester);
  }

  private async acknowledgeReview(id: string, actor: Actor, surface: Surface): Promise<void> {
    const review = await this.deps.reviews.get(id);
    if (!review) return surface.ephemeral(errorReply('This break-glass review no longer exists.'));
    if (!roleAtLeast(actor.role, 'approver')) return this.deny(actor, `acknowledge break-glass ${review.verb}`, review.channel, surface, 'approver');
    if (review.requester === actor.id) return surface.ephemeral(errorReply('You broke the glass, so another approver must review it.'));
    const now = this.now();
    const outcome = await this.deps.reviews.acknowledge(id, actor.id, now);
    if (outcome === 'missing') return surface.ephemeral(errorReply('This break-glass review no longer exists.'));
    if (outcome !== 'ok') return surface.ephemeral(errorReply(md`This review was already acknowledged by ${mention(outcome)}.`));
    await this.record(actor.id, `acknowledge break-glass ${review.verb}`, 'acknowledged', review.channel, undefined, id);
    if (review.messageTs) {
      await this.deps.clients.notify
        .update(review.channel, review.messageTs, reviewView({ ...review, acknowledgedBy: actor.id, acknowledgedAt: now }, approverMentions(this.deps.config)))
        .catch((error: Error) => this.deps.log.warn({ err: error.message }, 'review message update failed'));
    }
    await surface.ephemeral(reply(md`Acknowledged the BREAK-GLASS run of \`${review.verb}\` by ${mention(review.requester)}; reminders stop.`));
  }

  /** Queues the operation's job (once per request), bound to the plan that was just checked. */
  private async startOperation(request: PendingRequest, verb: Verb<unknown>, operation: Operation<unknown, unknown>, params: unknown, ctx: CommandContext): Promise<Reply> {
    const job = this.jobFor(operation);
    if (!job) throw new Error(`no job runs the operation of \`${request.verb}\``);
    const jobId = `approval-${request.id}`;
    await operation.beforeStart?.(params, ctx, jobId);
    const at = operation.startAt?.(params);
    let ref;
    try {
      ref = await this.deps.jobs.start(job.name, params, {
        channel: request.channel,
        requestedBy: request.requester,
        jobId,
        approved: { verb: verbName(verb), hash: request.planHash },
        ...(at ? { delayMs: Math.max(0, Date.parse(at) - this.now()) } : {}),
      });
    } catch (error) {
      await operation.notStarted?.(params, ctx, jobId);
      throw error;
    }
    if (ref.existing) await operation.notStarted?.(params, ctx, jobId);
    return operation.started?.(params, ref, ctx) ?? reply(ref.existing ? `\`${request.verb}\` is already queued or running.` : `\`${request.verb}\` started; progress is in its thread.`);
  }

  /** An inline operation's run: no thread, no job; it reports through its reply. */
  private inlineRun(request: PendingRequest, params: unknown, ctx: CommandContext): JobRun<unknown> {
    return {
      ...ctx,
      id: request.id,
      data: params,
      requestedBy: request.requester,
      channel: request.channel,
      thread: async () => undefined,
      signal: new AbortController().signal,
      approved: { verb: request.verb, hash: request.planHash },
      step: async () => undefined,
      ask: async () => undefined,
      attach: async () => undefined,
      chart: async () => undefined,
    };
  }

  private jobFor(operation: Operation<unknown, unknown>): JobDefinition<unknown> | undefined {
    return [...this.deps.registry.jobs.values()].find((job) => job.operation === operation);
  }

  private async requestAgain(verb: Verb<unknown>, params: unknown, requester: Actor, channel: string, surface: Surface, plan: Plan, hash: string, noticedBy?: string): Promise<void> {
    const when = noticedBy ? md`when ${mention(noticedBy)} clicked` : 'when its job was about to start';
    const note = md`:arrows_counterclockwise: AutoStack asked again on behalf of ${mention(requester.id)}: what \`${verbName(verb)}\` would do changed since it was requested (noticed ${when}); nothing was done.`;
    const request = await this.ask(verb, params, plan, hash, requester, channel, surface, note);
    await this.record(requester.id, verbName(verb), 'asked again by AutoStack: plan changed', channel, undefined, `${request.id}${noticedBy ? `; noticed when ${noticedBy} clicked` : ''}`);
  }

  /**
   * Records a pending confirmation or approval bound to `plan` and shows it: a confirmation to the
   * requester, an approval in the channel (with the job that expires it).
   */
  private async ask(verb: Verb<unknown>, params: unknown, plan: Plan, hash: string, requester: Actor, channel: string, surface: Surface, note?: Mrkdwn): Promise<PendingRequest> {
    const name = verbName(verb);
    const now = this.now();
    const ttl = verb.guard === 'confirm' ? CONFIRM_TTL_MS : ms(this.deps.config.approvals.ttl as ms.StringValue);
    const request = await this.deps.pending.create({
      kind: verb.guard === 'confirm' ? 'confirm' : 'approval',
      verb: name,
      sealedParams: this.deps.secrets.seal(JSON.stringify(params ?? null)),
      planHash: hash,
      plan: JSON.stringify(plan),
      requester: requester.id,
      channel,
      createdAt: now,
      expiresAt: now + ttl,
      ...(verb.guard === 'confirm' ? {} : { asked: JSON.stringify(this.deps.config.access.approver) }),
      ...(note && verb.guard !== 'confirm' ? { note: toMrkdwn(note) } : {}),
    });
    if (request.kind === 'confirm') {
      const view = confirmView(request, plan);
      if (note) view.parts.unshift({ kind: 'text', text: note });
      await surface.ephemeral(view);
      return request;
    }
    const view = approvalView(request, plan, 'pending', this.breakGlassOffered(request.verb));
    const ts = await surface.post(channel, view);
    if (ts) {
      request.messageTs = ts;
      await this.deps.pending.setMessage(request.id, ts);
    }
    if (verbApprovals(this.deps.config, name).dm) {
      const dms = await this.sendApprovalDms(request, view);
      request.dms = JSON.stringify(dms);
      await this.deps.pending.annotate(request.id, { dms: request.dms });
      // The channel message now names who was reached by DM too.
      await this.refreshApprovalMessage(request);
    }
    await this.deps.jobs.start(APPROVAL_EXPIRY_JOB, { id: request.id }, { channel: '', requestedBy: requester.id, delayMs: ttl, jobId: `expire-${request.id}` });
    const escalateMs = ms(this.deps.config.approvals.escalateAfter as ms.StringValue);
    if (escalateMs < ttl) await this.deps.jobs.start(APPROVAL_ESCALATION_JOB, { id: request.id }, { channel: '', requestedBy: requester.id, delayMs: escalateMs, jobId: `escalate-${request.id}` });
    return request;
  }

  /** DMs the request to each approver but the requester; those not reached are logged and named in the thread. */
  private async sendApprovalDms(request: PendingRequest, view: Reply): Promise<DirectMessage[]> {
    const { ids, unread } = await approverIds(this.deps.config, this.deps.roles);
    const { sent, failed } = await sendDirect(this.deps.clients.notify, ids.filter((id) => id !== request.requester), directView(request, view));
    const problems = [...failed.map((f) => md`${mention(f.user)} (${f.error})`), ...unread.map((g) => md`members of ${groupMention(g)} (Slack did not list them)`)];
    if (problems.length && request.messageTs) {
      this.deps.log.warn({ request: request.id, failed, unread }, 'approval DMs not delivered');
      await this.deps.clients.notify
        .post(request.channel, md`:warning: The request could not be sent by DM to ${problems}; they are mentioned above.`, { threadTs: request.messageTs })
        .catch((error: Error) => this.deps.log.warn({ err: error.message }, 'DM failure notice not posted'));
    }
    return sent;
  }

  /** What the requester is told: who was asked, where, and until when. */
  private askedLine(request: PendingRequest): Mrkdwn {
    const asked = askedOf(request);
    const dms = dmsOf(request);
    const where = asked.length ? md`asked ${asked} in ${channelRef(request.channel)}` : md`asked in ${channelRef(request.channel)} (no approver is configured in access.approver)`;
    const byDm = dms.length ? md` and by DM ${dms.map((d) => mention(d.user))}` : '';
    const escalateMs = ms(this.deps.config.approvals.escalateAfter as ms.StringValue);
    const escalation = request.createdAt + escalateMs < request.expiresAt ? md` If nobody decides by ${formatTime(request.createdAt + escalateMs)}, ${listOr(escalationMentions(this.deps.config), 'nobody')} is mentioned in its thread.` : '';
    return md`Approval requested: ${where}${byDm}. An approver other than you must approve \`${request.verb}\` before ${formatTime(request.expiresAt)}.${escalation}`;
  }

  /**
   * Called by the escalation job: a request still pending is escalated once, in its thread,
   * to the escalation group (or the approvers again); its message then says so.
   */
  async escalate(id: string): Promise<void> {
    const request = await this.deps.pending.get(id);
    const now = this.now();
    if (!request || request.kind !== 'approval' || request.status !== 'pending' || request.expiresAt < now) return;
    if (!(await this.deps.pending.markEscalated(id, now))) return;
    const who = escalationMentions(this.deps.config);
    const minutes = Math.max(0, Math.round((now - request.createdAt) / 60_000));
    const text = md`:rotating_light: ${listOr(who, 'Nobody is configured to escalate to (approvals.escalation, access.approver).', ' ')} Nobody has decided on \`${request.verb}\` requested by ${mention(request.requester)} ${minutes} min ago (asked: ${listOr(askedOf(request), 'nobody')}). Approve or reject it in the message above before ${formatTime(request.expiresAt)}.`;
    if (request.messageTs) {
      await this.deps.clients.notify
        .post(request.channel, text, { threadTs: request.messageTs })
        .catch((error: Error) => this.deps.log.warn({ err: error.message }, 'escalation post failed'));
    }
    // Redrawn from what is stored now, so a decision made meanwhile is not drawn over.
    const latest = await this.deps.pending.get(id);
    if (latest) await this.refreshApprovalMessage(latest);
    await this.record(request.requester, request.verb, 'approval escalated', request.channel, undefined, `${id}: mentioned ${who.map(plainText).join(', ') || 'nobody'} after ${minutes} min`);
  }

  /** A click found the target gone: the request is closed for everyone and the requester told in its thread. */
  private async closeGone(request: PendingRequest, decider: Actor, why: Text, surface: Surface): Promise<void> {
    const now = this.now();
    const outcome = await this.deps.pending.decide(request.id, 'closed', decider.id, now);
    if (outcome !== 'ok') return surface.ephemeral(errorReply(`This request was already ${outcome}.`));
    const reason = plainText(why);
    await this.deps.pending.annotate(request.id, { closedReason: reason });
    await this.record(decider.id, request.verb, 'closed: target gone', request.channel, undefined, `${request.id}: ${reason}`);
    if (request.kind === 'approval') {
      await this.refreshApprovalMessage({ ...request, status: 'closed', decidedBy: decider.id, decidedAt: now, closedReason: reason });
      if (request.messageTs) {
        const text = md`${mention(request.requester)} \`${request.verb}\` can no longer run, so the request was closed (checked when ${mention(decider.id)} clicked at ${formatTime(now)}): ${why}`;
        await this.deps.clients.notify.post(request.channel, text, { threadTs: request.messageTs }).catch((error: Error) => this.deps.log.warn({ err: error.message }, 'close notice failed'));
      }
    }
    await surface.ephemeral(reply(md`Closed \`${request.verb}\`: ${why} Nothing was done.`));
  }

  /** Called by the expiry job and on late clicks. */
  async expire(request: PendingRequest): Promise<void> {
    const outcome = await this.deps.pending.decide(request.id, 'expired', 'system', this.now());
    if (outcome !== 'ok' && outcome !== 'expired') return;
    await this.refreshApprovalMessage({ ...request, status: 'expired' });
    await this.record(request.requester, request.verb, 'approval expired', request.channel, undefined, request.id);
  }

  /** Asks again for an operation whose job found, when it started, that its plan had changed. */
  async planChanged(verbNamed: string, params: unknown, plan: Plan, requesterId: string, channel: string, surface: Surface): Promise<void> {
    const verb = this.verbNamed(verbNamed);
    if (!verb?.operation) return;
    const requester = await this.actor(requesterId);
    await this.requestAgain(verb, params, requester, channel, surface, plan, planHash(verbNamed, params, plan));
  }

  /** Redraws the request's message in the channel and in every DM that carries it. */
  private async refreshApprovalMessage(request: PendingRequest): Promise<void> {
    // The decided message keeps the plan that was shown when it was asked.
    const view = approvalView(request, JSON.parse(request.plan) as Plan, request.status, this.breakGlassOffered(request.verb));
    const places = [...(request.messageTs ? [{ channel: request.channel, ts: request.messageTs, message: view }] : []), ...dmsOf(request).map((d) => ({ channel: d.channel, ts: d.ts, message: directView(request, view) }))];
    for (const place of places) {
      await this.deps.clients.notify
        .update(place.channel, place.ts, place.message)
        .catch((error: Error) => this.deps.log.warn({ err: error.message }, 'approval message update failed'));
    }
  }

  /** Whether the request's message offers break glass (approvals.verbs.<verb>.breakGlass). */
  private breakGlassOffered(verb: string): boolean {
    return verbApprovals(this.deps.config, verb).breakGlass;
  }

  // ---- App Home -------------------------------------------------------------------------

  /** Renders the Home tab for the user: each area's section, then what this user may run. */
  async home(userId: string, surface: Surface): Promise<void> {
    const actor = await this.actor(userId);
    const ctx = this.context(actor, '');
    const parts: Part[] = [{ kind: 'heading', text: 'AutoStack ChatOps' }];
    if (!actor.role) {
      parts.push({ kind: 'text', text: 'You have no AutoStack role yet. Roles are granted in the bot configuration (access.*) by Slack user ID or user group.' });
      return surface.publishHome(userId, { summary: 'AutoStack ChatOps', parts, visibility: 'ephemeral' });
    }
    // Sections are read in parallel; one failing area does not blank the tab.
    const sections = await Promise.all(
      this.deps.registry.homes.map(async ({ area, render }) => {
        try {
          return await render(ctx);
        } catch (error) {
          return [{ kind: 'context', text: `${area}: unavailable (${(error as Error).message})` } satisfies Part];
        }
      }),
    );
    for (const section of sections) if (section.length) parts.push(...section, { kind: 'divider' });
    await surface.publishHome(userId, { summary: 'AutoStack ChatOps', parts, visibility: 'ephemeral' });
  }

  // ---- modals ---------------------------------------------------------------------------

  async view(input: ViewInput, surface: Surface): Promise<ViewErrors> {
    const actor = await this.actor(input.userId);
    if (input.callbackId === 'approval.breakglass') return this.submitBreakGlass(input, actor, surface);
    if (input.callbackId === 'verb.pick') return this.submitPick(input, actor, surface);
    if (input.callbackId === 'approval.typed') {
      const request = await this.deps.pending.get(input.metadata);
      const verb = request && this.verbNamed(request.verb);
      if (!request || !verb?.approverMustType) return { typed: 'This approval request no longer exists.' };
      const expected = verb.approverMustType(this.openParams(request)).expected;
      if ((input.values.typed ?? '').trim() !== expected) return { typed: `Type exactly ${expected} to approve.` };
      // The modal closes now; approving re-plans, which may take longer than Slack waits.
      void this.track(() => this.decideApproval({ actionId: 'approval.approve', value: request.id, userId: actor.id, channelId: request.channel }, actor, surface.inChannel(request.channel), 'approved', expected));
      return undefined;
    }
    if (input.callbackId === 'verb.form') {
      const { verb: name, channel } = JSON.parse(input.metadata) as { verb: string; channel: string };
      const verb = this.verbNamed(name);
      if (!verb) return undefined;
      if (!(await this.permitted(verb, actor, channel, surface.inChannel(channel)))) return undefined;
      const args: Args = { positional: [], flags: {} };
      // Only the form's own fields become flags, whatever else the submission carries.
      for (const field of verb.form?.fields ?? []) {
        const value = ownValue(input.values, field.name)?.trim();
        if (value) args.flags[field.name] = value;
      }
      try {
        verb.parse(args, { config: this.deps.config, actor });
      } catch (error) {
        if (error instanceof UsageError) {
          const field = verb.form?.fields.find((f) => error.message.includes(f.name))?.name ?? verb.form?.fields[0]?.name ?? 'form';
          return { [field]: error.message };
        }
        throw error;
      }
      // Valid: close the modal now and continue outside Slack's 3-second window.
      void this.track(() => this.runParsed(verb, args, actor, channel, surface.inChannel(channel)));
      return undefined;
    }
    return undefined;
  }

  /** The required argument is missing: a modal to pick it among the choices that exist now. */
  private async openPicker(verb: Verb<unknown>, actor: Actor, input: CommandInput, surface: Surface): Promise<void> {
    const name = verbName(verb);
    const picker = verb.picker!;
    const what = picker.label.toLowerCase();
    let choices: Choice[];
    try {
      choices = await picker.choices(this.context(actor, input.channelId));
    } catch (error) {
      if (error instanceof UserFacingError) return this.rejectInput(input, surface, error.text, error.hint ?? usageHint(verb), name);
      return this.rejectInput(input, surface, `give the ${what} (listing them failed: ${(error as Error).message.slice(0, 300)})`, usageHint(verb), name);
    }
    if (choices.length === 0) return this.rejectInput(input, surface, `there is no ${what} to choose from`, usageHint(verb), name);
    return surface.openModal({
      callbackId: 'verb.pick',
      title: name,
      submit: verb.guard === 'none' ? 'Run' : 'Continue',
      metadata: JSON.stringify({ verb: name, channel: input.channelId }),
      intro: `${verb.summary}\n_Runbook: ${verb.runbookStep}_`,
      fields: [{ name: 'choice', label: picker.label, options: choices }],
    });
  }

  /** A pick submitted: the verb runs with it as its argument, exactly as if it had been typed. */
  private async submitPick(input: ViewInput, actor: Actor, surface: Surface): Promise<ViewErrors> {
    const { verb: name, channel } = JSON.parse(input.metadata) as { verb: string; channel: string };
    const verb = this.verbNamed(name);
    if (!verb?.picker) return undefined;
    if (!(await this.permitted(verb, actor, channel, surface.inChannel(channel)))) return undefined;
    const choice = (input.values.choice ?? '').trim();
    if (!choice) return { choice: `Choose the ${verb.picker.label.toLowerCase()}.` };
    let args: Args;
    try {
      args = { positional: tokenize(choice), flags: {} };
      checkArgs(args, verb);
      verb.parse(args, { config: this.deps.config, actor });
    } catch (error) {
      if (error instanceof UsageError) return { choice: error.message };
      throw error;
    }
    // Valid: close the modal now and continue outside Slack's 3-second window.
    void this.track(() => this.runParsed(verb, args, actor, channel, surface.inChannel(channel)));
    return undefined;
  }

  private formModal(verb: Verb<unknown>, channel: string): ModalSpec {
    return {
      callbackId: 'verb.form',
      title: verb.form!.title,
      submit: verb.guard === 'none' ? 'Run' : 'Continue',
      metadata: JSON.stringify({ verb: verbName(verb), channel }),
      intro: `${verb.summary}\n_Runbook: ${verb.runbookStep}_`,
      fields: verb.form!.fields,
    };
  }

  // ---- helpers --------------------------------------------------------------------------

  private readonly inFlight = new Set<Promise<void>>();

  /** Runs work that outlives its acknowledgement, so shutdown (and tests) can wait for it. */
  track(work: () => Promise<void>): Promise<void> {
    const promise = work()
      .catch((error: Error) => this.deps.log.error({ err: error.message }, 'request handling failed'))
      .finally(() => this.inFlight.delete(promise));
    this.inFlight.add(promise);
    return promise;
  }

  /** A request another replica already accepted (a replay): it was acknowledged, nothing runs; audited. */
  async replayed(userId: string, channel: string, what: string): Promise<void> {
    await this.record(userId, 'slack replay', 'refused', channel, undefined, `${what}: the same signed request was already accepted by another replica; acknowledged, nothing was run`);
  }

  /** Waits for all requests still being handled (shutdown, tests). */
  async settled(): Promise<void> {
    while (this.inFlight.size) await Promise.all([...this.inFlight]);
  }

  operationContext(actor: Actor, channel: string, stage: OperationStage): OperationContext {
    return { ...this.context(actor, channel), stage };
  }

  context(actor: Actor, channel: string): CommandContext {
    return {
      actor,
      channel,
      config: this.deps.config,
      clients: this.deps.clients,
      jobs: this.deps.jobs,
      audit: this.deps.audit,
      secrets: this.deps.secrets,
      log: this.deps.log.child({ actor: actor.id }),
    };
  }

  private async actor(userId: string): Promise<Actor> {
    const { role, unread } = await this.deps.roles.resolve(userId);
    return { id: userId, role, ...(unread.length ? { roleNote: describeUnread(unread, this.deps.config.access, this.now()) } : {}) };
  }

  private async permitted(verb: Verb<unknown>, actor: Actor, channel: string, surface: Surface): Promise<boolean> {
    const name = verbName(verb);
    if (!roleAtLeast(actor.role, verb.minRole)) {
      await this.deny(actor, name, channel, surface, verb.minRole);
      return false;
    }
    if (!this.deps.roles.allowedIn(name, channel)) {
      const channels = ownValue(this.deps.config.access.channels, name) ?? [];
      await this.record(actor.id, name, 'denied: channel', channel);
      this.deps.metrics.denials.inc({ verb: name });
      await surface.ephemeral(errorReply(md`\`${name}\` can only be run in ${channels.map(channelRef)}.`));
      return false;
    }
    return true;
  }

  private async deny(actor: Actor, what: string, channel: string, surface: Surface, needed: Role): Promise<void> {
    this.deps.metrics.denials.inc({ verb: what });
    await this.record(actor.id, what, 'denied', channel, undefined, `needs ${needed}, has ${actor.role ?? 'no role'}${actor.roleNote ? `; ${actor.roleNote}` : ''}`);
    await surface.ephemeral(
      errorReply(`You are not allowed to run \`${what}\`: it needs the ${needed} role${actor.role ? ` and you are ${actor.role}` : ' and you have no AutoStack role'}.`, actor.roleNote ?? this.whoGrants(needed)),
    );
  }

  /** Whom to ask for a role (access.grantedBy, else the approvers), and the user groups that carry it. */
  private whoGrants(role: Role): Mrkdwn {
    const access = this.deps.config.access;
    const grantors = mentionsOf(access.grantedBy);
    const ask = grantors.length ? grantors : approverMentions(this.deps.config);
    const groups = access[role].usergroups.map(groupMention);
    const via = groups.length ? md`; members of ${groups} have it` : '';
    return md`Ask ${listOr(ask, 'whoever maintains the bot configuration')} for the ${role} role (access.${role} in the bot configuration${via}).`;
  }

  private async rejectInput(input: CommandInput, surface: Surface, message: Text, hint: Text | undefined, verb = 'input'): Promise<void> {
    this.deps.metrics.commands.inc({ verb, result: 'invalid' });
    await this.record(input.userId, verb, 'invalid input', input.channelId, undefined, plainText(message));
    await surface.ephemeral(errorReply(message, hint));
  }

  private async failed(error: unknown, actorId: string, what: string, channel: string, surface: Surface, args?: Record<string, unknown>): Promise<void> {
    const userFacing = error instanceof UserFacingError || error instanceof UsageError;
    const wait = retryAfterMs(error);
    const message: Text = userFacing
      ? error instanceof UserFacingError
        ? error.text
        : (error as Error).message
      : wait !== undefined
        ? `Slack is rate limiting this app (it asked to wait ${Math.round(wait / 1000)} s), so part of the answer to \`${what}\` may be missing. Check the channel before running it again.`
        : `\`${what}\` failed: ${(error as Error).message}`;
    if (!userFacing) this.deps.log.error({ err: (error as Error).message, verb: what }, 'command failed');
    this.deps.metrics.commands.inc({ verb: what, result: 'error' });
    await this.record(actorId, what, 'error', channel, args, plainText(message), surface);
    await surface.ephemeral(errorReply(message, error instanceof UserFacingError ? error.hint : undefined));
  }

  private async deliver(result: Reply, channel: string, surface: Surface): Promise<void> {
    if (result.visibility === 'channel') await surface.post(channel, result);
    else await surface.ephemeral(result);
  }

  /** Audits; with `surface`, the person is told when the entry is not in the audit log yet or at all. */
  private async record(actor: string, action: string, result: string, channel: string, args?: Record<string, unknown>, detail?: string, surface?: Surface): Promise<void> {
    if (!['invalid', 'error'].includes(result)) this.deps.metrics.commands.inc({ verb: action, result });
    let notice: string | undefined;
    try {
      if ((await this.deps.audit.record({ actor, action, result, channel, args, detail })) === 'spooled') {
        notice = `:warning: Audit: Redis is unreachable, so the audit entry for \`${action}\` is kept on the bot's disk; it is written to the audit log when Redis is back.`;
      }
    } catch (error) {
      this.deps.log.error({ err: (error as Error).message, action }, 'audit entry lost');
      notice = `:warning: Audit: the audit entry for \`${action}\` could not be written (${(error as Error).message}).`;
    }
    if (notice && surface) await surface.ephemeral(reply(notice)).catch(() => undefined);
  }

  private verbNamed(name: string): Verb<unknown> | undefined {
    return this.deps.registry.verbs.find((v) => verbName(v) === name);
  }

  private openParams(request: PendingRequest): unknown {
    return JSON.parse(this.deps.secrets.open(request.sealedParams)) as unknown;
  }

  private now(): number {
    return this.deps.clients.clock.now().getTime();
  }
}

function formatTime(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(11, 16) + ' UTC';
}

function planParts(plan: Plan): Part[] {
  const parts: Part[] = [{ kind: 'text', text: md`*${plan.title}*` }, { kind: 'code', text: plan.steps.map((s, i) => `${i + 1}. ${s}`).join('\n') }];
  if (plan.resources.length) parts.push({ kind: 'fields', fields: [['Resources', plan.resources.join('\n')]] });
  for (const warning of plan.warnings ?? []) parts.push({ kind: 'text', text: `:warning: ${warning}` });
  return parts;
}

/** The approval message: the only place its layout is defined. */
export function approvalView(request: PendingRequest, plan: Plan | undefined, status: PendingRequest['status'], breakGlass = false): Reply {
  const parts: Part[] = [];
  // Written by the runtime only (requestAgain), as rendered mrkdwn.
  if (request.note) parts.push({ kind: 'text', text: storedMrkdwn(request.note) });
  parts.push({
    kind: 'text',
    text: request.breakGlass
      ? md`:rotating_light: *BREAK-GLASS*: ${mention(request.requester)} ran \`${request.verb}\` without an approval. Reason: ${request.breakGlass}`
      : md`:lock: ${mention(request.requester)} asks to run \`${request.verb}\``,
  });
  if (plan) parts.push(...planParts(plan));
  const requested = md`requested ${slackDate(request.createdAt, '{ago}', `at ${formatTime(request.createdAt)}`)}`;
  const dms = request.dms === undefined ? '' : md` · by DM: ${listOr(dmsOf(request).map((d) => mention(d.user)), 'nobody reached')}`;
  parts.push({ kind: 'context', text: md`Asked: ${listOr(askedOf(request), 'nobody (no approver is configured)')}${dms}` });
  if (status === 'pending') {
    const escalated = request.escalatedAt ? ` · escalated at ${formatTime(request.escalatedAt)}` : '';
    parts.push({ kind: 'context', text: md`Plan ${request.planHash.slice(0, 12)} · ${requested}${escalated} · expires at ${formatTime(request.expiresAt)} · an approver other than the requester must decide` });
    parts.push({
      kind: 'buttons',
      buttons: [
        { label: 'Approve', action: 'approval.approve', value: request.id, style: 'primary' },
        { label: 'Reject', action: 'approval.reject', value: request.id, style: 'danger' },
        ...(breakGlass ? [{ label: 'Break glass', action: 'approval.breakglass', value: request.id }] : []),
      ],
    });
  } else {
    const who = request.decidedBy && request.decidedBy !== 'system' ? (status === 'closed' ? md` · found when ${mention(request.decidedBy)} clicked` : md` by ${mention(request.decidedBy)}`) : '';
    const when = request.decidedAt ? ` at ${formatTime(request.decidedAt)}` : '';
    const label = {
      pending: '',
      approved: request.breakGlass ? ':rotating_light: BREAK-GLASS: run by the requester alone, review open' : ':white_check_mark: Approved',
      rejected: ':no_entry: Rejected',
      expired: ':hourglass: Expired: nobody decided in time',
      superseded: ':arrows_counterclockwise: Superseded: the plan changed, so AutoStack asked again',
      closed: `:no_entry_sign: Closed: it can no longer run (${request.closedReason ?? 'its target is gone'}); nothing was done`,
    }[status];
    parts.push({ kind: 'context', text: md`${label}${who}${when} · ${requested} · request ${request.id}` });
  }
  return { summary: `${request.verb} requested by ${request.requester}: ${status}`, parts, visibility: 'channel' };
}

/** The break-glass review message: what ran, why, and whether an approver acknowledged it. */
export function reviewView(review: BreakGlassReview, approvers: Mrkdwn[]): Reply {
  const parts: Part[] = [
    { kind: 'text', text: md`:rotating_light: *BREAK-GLASS review*: ${mention(review.requester)} ran \`${review.verb}\` without an approval at ${formatTime(review.at)}.` },
    { kind: 'text', text: `Reason: ${review.reason}` },
  ];
  if (review.acknowledgedBy) {
    parts.push({ kind: 'context', text: md`:white_check_mark: Reviewed: acknowledged by ${mention(review.acknowledgedBy)}${review.acknowledgedAt ? ` at ${formatTime(review.acknowledgedAt)}` : ''} · request ${review.id}` });
  } else {
    parts.push({ kind: 'context', text: md`${listOr(approvers, 'Approvers')}: an approver other than ${mention(review.requester)} must acknowledge this review; it is reminded until then · request ${review.id}` });
    parts.push({ kind: 'buttons', buttons: [{ label: 'Acknowledge review', action: 'breakglass.ack', value: review.id, style: 'primary' }] });
  }
  return { summary: `BREAK-GLASS review: ${review.verb} by ${review.requester}`, parts, visibility: 'channel' };
}

/** The same request as sent by DM: it says where it was asked, and that either place decides it. */
function directView(request: PendingRequest, view: Reply): Reply {
  return { ...view, parts: [{ kind: 'context', text: md`Asked in ${channelRef(request.channel)}; a decision here or there counts once and updates both.` }, ...view.parts] };
}

/** Who a request asked (stored as the approver grant when it was asked). */
function askedOf(request: PendingRequest): Mrkdwn[] {
  return request.asked ? mentionsOf(JSON.parse(request.asked) as Grant) : [];
}

function dmsOf(request: PendingRequest): DirectMessage[] {
  return request.dms ? (JSON.parse(request.dms) as DirectMessage[]) : [];
}

/** The texts joined by `separator`, or `none` when there are none. */
function listOr(texts: Text[], none: string, separator = ', '): Text {
  return texts.length ? joinText(texts, separator) : none;
}

export function confirmView(request: PendingRequest, plan: Plan): Reply {
  return {
    summary: `Confirm ${request.verb}`,
    visibility: 'ephemeral',
    parts: [
      ...planParts(plan),
      {
        kind: 'buttons',
        buttons: [
          { label: 'Confirm', action: 'confirm.run', value: request.id, style: 'danger' },
          { label: 'Cancel', action: 'confirm.cancel', value: request.id },
        ],
      },
      { kind: 'context', text: `Expires at ${formatTime(request.expiresAt)}.` },
    ],
  };
}
