/**
 * Roles are granted to immutable Slack user IDs and user groups; anyone else can do nothing.
 *
 * A group's members are read with usergroups.users.list and kept for `access.groups.refresh`.
 * When Slack does not answer, the last list read still grants its roles until it is
 * `access.groups.maxStale` old; after that the group grants nothing (fail closed) until Slack
 * answers again, and the person is told why. A failed read is remembered for
 * `access.groups.negativeCache`, so an outage costs one call per group in that time, not one
 * per command.
 */
import type { WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { Clock, Role } from './types.ts';
import { ROLES } from './types.ts';
import { ownValue } from './keys.ts';
import { durationMs } from './durations.ts';

/** A user group whose members could not be read recently enough to grant its role. */
export interface UnreadGroup {
  group: string;
  role: Role;
  /** When its members were last read (epoch ms), if ever. */
  readAt?: number;
  error: string;
}

export interface ResolvedRole {
  role: Role | null;
  /** Groups that might have granted a higher role but could not be read (fail closed). */
  unread: UnreadGroup[];
}

interface GroupEntry {
  members?: Set<string>;
  readAt?: number;
  failedAt?: number;
  error?: string;
}

/** What the person is told when a group could not be read: which group, since when, and what to expect. */
export function describeUnread(unread: UnreadGroup[], access: Config['access'], now: number): string {
  const groups = unread.map((u) => `user group ${u.group} (${u.role})${u.readAt !== undefined ? `, last read ${Math.round((now - u.readAt) / 60_000)} min ago` : ', never read'}`);
  return `Slack did not answer for ${groups.join('; ')}: a group read longer ago than ${access.groups.maxStale} (access.groups.maxStale) grants no role until Slack answers again (last error: ${unread[0]!.error}).`;
}

export class RoleResolver {
  private readonly groups = new Map<string, GroupEntry>();
  private readonly refreshMs: number;
  private readonly maxStaleMs: number;
  private readonly negativeCacheMs: number;

  constructor(
    private readonly access: Config['access'],
    private readonly slack: WebClient,
    private readonly clock: Clock,
    private readonly log?: Logger,
  ) {
    this.refreshMs = durationMs(access.groups.refresh);
    this.maxStaleMs = durationMs(access.groups.maxStale);
    this.negativeCacheMs = durationMs(access.groups.negativeCache);
  }

  /** The highest role granted to the user, directly or through a user group that could be read. */
  async resolve(userId: string): Promise<ResolvedRole> {
    const unread: UnreadGroup[] = [];
    for (const role of [...ROLES].reverse()) {
      const grant = this.access[role];
      if (grant.users.includes(userId)) return { role, unread };
      for (const group of grant.usergroups) {
        const members = await this.members(group);
        if (members.ok) {
          if (members.ids.has(userId)) return { role, unread };
        } else {
          unread.push({ group, role, error: members.error, ...(members.readAt !== undefined ? { readAt: members.readAt } : {}) });
        }
      }
    }
    return { role: null, unread };
  }

  /** The members of a user group (cached as for roles); undefined when Slack did not answer recently enough. */
  async membersOf(group: string): Promise<string[] | undefined> {
    const members = await this.members(group);
    return members.ok ? [...members.ids] : undefined;
  }

  /** Whether the user is listed in `grant`, directly or through one of its user groups (fail closed). */
  async inGrant(grant: { users: string[]; usergroups: string[] }, userId: string): Promise<boolean> {
    if (grant.users.includes(userId)) return true;
    for (const group of grant.usergroups) if ((await this.membersOf(group))?.includes(userId)) return true;
    return false;
  }

  /** Commands limited to channels by configuration. */
  allowedIn(verbName: string, channel: string): boolean {
    const channels = ownValue(this.access.channels, verbName);
    return !channels || channels.includes(channel);
  }

  private async members(group: string): Promise<{ ok: true; ids: Set<string> } | { ok: false; error: string; readAt?: number }> {
    const now = this.clock.now().getTime();
    const entry = this.groups.get(group) ?? {};
    if (entry.members && entry.readAt !== undefined && now - entry.readAt < this.refreshMs) return { ok: true, ids: entry.members };
    const recentlyFailed = entry.failedAt !== undefined && now - entry.failedAt < this.negativeCacheMs;
    if (!recentlyFailed) {
      try {
        const result = await this.slack.usergroups.users.list({ usergroup: group });
        this.groups.set(group, { members: new Set(result.users ?? []), readAt: now });
        return { ok: true, ids: new Set(result.users ?? []) };
      } catch (error) {
        const message = (error as Error).message;
        entry.failedAt = now;
        entry.error = message;
        this.groups.set(group, entry);
        this.log?.warn({ group, err: message }, 'user group members could not be read');
      }
    }
    if (entry.members && entry.readAt !== undefined && now - entry.readAt <= this.maxStaleMs) return { ok: true, ids: entry.members };
    return { ok: false, error: entry.error ?? 'not read yet', ...(entry.readAt !== undefined ? { readAt: entry.readAt } : {}) };
  }
}
