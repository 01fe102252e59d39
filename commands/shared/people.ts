/**
 * Names for Slack user IDs in timelines and reports: read with users.info through the Notifier and
 * kept in Redis for a day, so a report of a long incident asks Slack once per person, not once per
 * line, and every replica shares the answers. An ID Slack does not know stays an ID.
 */
import type { Clients } from '../../src/core/types.ts';

const NAME_TTL_SECONDS = 86_400;

export class PeopleNames {
  private readonly known = new Map<string, string>();

  constructor(
    private readonly clients: Pick<Clients, 'redis' | 'notify'>,
    private readonly prefix: string,
  ) {}

  /** The display name of `user`, or the ID itself when Slack does not know it (or cannot be asked). */
  async name(user: string): Promise<string> {
    const seen = this.known.get(user);
    if (seen !== undefined) return seen;
    const key = `${this.prefix}:people:name:${user}`;
    let name = await this.clients.redis.get(key);
    if (name === null) {
      const read = await this.clients.notify.userName(user).catch(() => undefined);
      name = read ?? user;
      if (read !== undefined) await this.clients.redis.set(key, read, 'EX', NAME_TTL_SECONDS);
    }
    this.known.set(user, name);
    return name;
  }

  /** Names of several people at once, by ID. */
  async names(users: Iterable<string>): Promise<Map<string, string>> {
    const unique = [...new Set(users)];
    const names = await Promise.all(unique.map((user) => this.name(user)));
    return new Map(unique.map((user, i) => [user, names[i]!]));
  }
}
