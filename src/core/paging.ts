/**
 * Reaching the approvers of a request: who is mentioned, who gets a DM, and the escalation that
 * mentions the escalation group once when nobody decided in time.
 */
import type { Config } from '../config.ts';
import type { JobDefinition } from './types.ts';
import type { RoleResolver } from './rbac.ts';
import { ownValue } from './keys.ts';
import { reply } from './result.ts';
import type { Message, Notifier } from './notifier.ts';
import type { Mrkdwn } from './text.ts';
import { groupMention, mention } from './text.ts';

export const APPROVAL_ESCALATION_JOB = 'approval-escalation';

export type Grant = { users: string[]; usergroups: string[] };

/** Slack mentions of a grant: its user groups, then its users. */
export function mentionsOf(grant: Grant): Mrkdwn[] {
  return [...grant.usergroups.map(groupMention), ...grant.users.map(mention)];
}

/** Who an approval request asks: the approvers of access.approver. */
export function approverMentions(config: Config): Mrkdwn[] {
  return mentionsOf(config.access.approver);
}

/** Who escalation mentions: approvals.escalation, or the approvers again when it lists nobody. */
export function escalationMentions(config: Config): Mrkdwn[] {
  const configured = mentionsOf(config.approvals.escalation);
  return configured.length ? configured : approverMentions(config);
}

/** The per-verb approval settings (approvals.verbs), with their defaults. */
export function verbApprovals(config: Config, verb: string): { dm: boolean; breakGlass: boolean } {
  const own = ownValue(config.approvals.verbs, verb);
  return { dm: own?.dm ?? false, breakGlass: own?.breakGlass ?? false };
}

/**
 * The approvers as user IDs: the users listed plus the members of the approver user groups that
 * could be read; `unread` names the groups whose members are unknown right now.
 */
export async function approverIds(config: Config, roles: RoleResolver): Promise<{ ids: string[]; unread: string[] }> {
  const ids = new Set(config.access.approver.users);
  const unread: string[] = [];
  for (const group of config.access.approver.usergroups) {
    const members = await roles.membersOf(group);
    if (members) for (const id of members) ids.add(id);
    else unread.push(group);
  }
  return { ids: [...ids], unread };
}

export interface DirectMessage {
  user: string;
  channel: string;
  ts: string;
}

/** Sends the same message to each user by DM; returns the DMs that were delivered and the users that were not reached. */
export async function sendDirect(notify: Notifier, users: string[], message: Message): Promise<{ sent: DirectMessage[]; failed: Array<{ user: string; error: string }> }> {
  const sent: DirectMessage[] = [];
  const failed: Array<{ user: string; error: string }> = [];
  for (const user of users) {
    try {
      sent.push({ user, ...(await notify.direct(user, message)) });
    } catch (error) {
      failed.push({ user, error: (error as Error).message });
    }
  }
  return { sent, failed };
}

/** The delayed job that escalates a request nobody decided (a no-op once decided or already escalated). */
export function approvalEscalationJob(escalate: (id: string) => Promise<void>): JobDefinition<{ id: string }> {
  return {
    name: APPROVAL_ESCALATION_JOB,
    title: (data) => `Escalate approval request ${data.id}`,
    async process(run) {
      await escalate(run.data.id);
      return reply(`approval request ${run.data.id} checked for escalation`);
    },
  };
}
