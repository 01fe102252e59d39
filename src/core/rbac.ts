/**
 * Roles are granted to immutable Slack user IDs and user groups; anyone else can do nothing.
 */
import type { WebClient } from '@slack/web-api';
import type { Config } from '../config.ts';
import type { Clock, Role } from './types.ts';
import { ROLES } from './types.ts';
import { ownValue } from './keys.ts';

const GROUP_CACHE_MS = 60_000;

export class RoleResolver {
  private readonly groupMembers = new Map<string, { members: Set<string>; fetchedAt: number }>();

  constructor(
    private readonly access: Config['access'],
    private readonly slack: WebClient,
    private readonly clock: Clock,
  ) {}

  /** The highest role granted to the user, directly or through a user group; null when none. */
  async roleOf(userId: string): Promise<Role | null> {
    for (const role of [...ROLES].reverse()) {
      const grant = this.access[role];
      if (grant.users.includes(userId)) return role;
      for (const group of grant.usergroups) {
        if ((await this.members(group)).has(userId)) return role;
      }
    }
    return null;
  }

  /** Commands limited to channels by configuration. */
  allowedIn(verbName: string, channel: string): boolean {
    const channels = ownValue(this.access.channels, verbName);
    return !channels || channels.includes(channel);
  }

  private async members(group: string): Promise<Set<string>> {
    const now = this.clock.now().getTime();
    const cached = this.groupMembers.get(group);
    if (cached && now - cached.fetchedAt < GROUP_CACHE_MS) return cached.members;
    try {
      const result = await this.slack.usergroups.users.list({ usergroup: group });
      const members = new Set(result.users ?? []);
      this.groupMembers.set(group, { members, fetchedAt: now });
      return members;
    } catch {
      // Default deny: a group that cannot be read grants nothing, but a recent answer still stands.
      return cached?.members ?? new Set();
    }
  }
}
