/**
 * Outgoing message text, escaped by construction.
 *
 * A plain `string` is text: the renderer escapes `&`, `<` and `>`, so it can never mention
 * anyone, link anywhere or address a channel, whatever it contains. Markup that Slack acts on
 * (mentions, channel and user-group references, links) exists only as `Mrkdwn`, which only this
 * module builds: the `md` tagged template trusts its literal parts (code) and escapes every
 * interpolated value, neutralising formatting characters too (`*`, `_`, `~`, `` ` ``), so a
 * value typed by a person shows as typed and cannot ping, link or break the message around it.
 */

const ZWSP = '\u200b';

/** Trusted Slack mrkdwn. Construct only through `md` and the helpers below. */
export class Mrkdwn {
  readonly #source: string;
  readonly #plain: string;
  private constructor(source: string, plain: string) {
    this.#source = source;
    this.#plain = plain;
  }
  /** The mrkdwn Slack receives. */
  get mrkdwn(): string {
    return this.#source;
  }
  /** The same text for a terminal, a file or a log line (`@U1`, `#C1`, `label (url)`). */
  get plain(): string {
    return this.#plain;
  }
  toString(): string {
    return this.#plain;
  }
  toJSON(): string {
    return this.#source;
  }
  /** @internal */
  static trusted(source: string, plain: string): Mrkdwn {
    return new Mrkdwn(source, plain);
  }
}

/** Text for a message: a string (always escaped) or built `Mrkdwn`. */
export type Text = string | Mrkdwn;

/** `&`, `<`, `>`: what Slack requires escaped in any text it parses. */
export function escapeEntities(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * A value inside mrkdwn: entities escaped, and formatting characters fenced by zero-width spaces
 * so they neither open nor close bold, italics, strike-through or code. An underscore inside a
 * word (`db_name`) is left alone: Slack never reads it as italics.
 */
export function escapeValue(text: string): string {
  return escapeEntities(text).replace(/[*~`]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])/g, (c) => `${ZWSP}${c}${ZWSP}`);
}

/** What Slack receives for any `Text`. */
export function toMrkdwn(text: Text): string {
  return typeof text === 'string' ? escapeEntities(text) : text.mrkdwn;
}

/** The plain reading of any `Text`. */
export function plainText(text: Text): string {
  return typeof text === 'string' ? text : text.plain;
}

/** A value interpolated into `md`: nested `Mrkdwn` as is, arrays joined with ", ", anything else escaped. */
function valueOf(value: unknown): { source: string; plain: string } {
  if (value instanceof Mrkdwn) return { source: value.mrkdwn, plain: value.plain };
  if (Array.isArray(value)) {
    const items = value.map(valueOf);
    return { source: items.map((i) => i.source).join(', '), plain: items.map((i) => i.plain).join(', ') };
  }
  const plain = value === undefined || value === null ? '' : String(value);
  return { source: escapeValue(plain), plain };
}

/** Mrkdwn from code: the template's literal parts are kept, every `${value}` is escaped. */
export function md(strings: TemplateStringsArray, ...values: unknown[]): Mrkdwn {
  let source = strings[0] ?? '';
  let plain = strings[0] ?? '';
  values.forEach((value, i) => {
    const v = valueOf(value);
    source += v.source + (strings[i + 1] ?? '');
    plain += v.plain + (strings[i + 1] ?? '');
  });
  return Mrkdwn.trusted(source, plain);
}

/**
 * Mrkdwn that `toMrkdwn` produced earlier and that was kept where only the runtime writes (a job
 * thread's outbox in Redis), read back to be sent.
 */
export function storedMrkdwn(source: string): Mrkdwn {
  return Mrkdwn.trusted(source, source);
}

/** Joins texts; strings among them stay escaped. */
export function joinText(parts: Text[], separator = ''): Mrkdwn {
  return Mrkdwn.trusted(parts.map(toMrkdwn).join(escapeEntities(separator)), parts.map(plainText).join(separator));
}

const SLACK_ID = /^[A-Z0-9]{2,32}$/;

/** A reference Slack renders (`<@U1>`); an id that is not a Slack id is shown as text instead. */
function reference(sigil: string, id: string, plainPrefix: string): Mrkdwn {
  if (!SLACK_ID.test(id)) return Mrkdwn.trusted(escapeValue(id), id);
  return Mrkdwn.trusted(`<${sigil}${id}>`, `${plainPrefix}${id}`);
}

/** Mentions a user by Slack user ID. */
export function mention(userId: string): Mrkdwn {
  return reference('@', userId, '@');
}

/** Links a channel by ID. */
export function channelRef(channelId: string): Mrkdwn {
  return reference('#', channelId, '#');
}

/** Mentions a user group by ID (pings its members). */
export function groupMention(groupId: string): Mrkdwn {
  return reference('!subteam^', groupId, '@group:');
}

/** A link; only http(s) URLs become links, the label is escaped. */
export function link(url: string, label: string): Mrkdwn {
  if (!/^https?:\/\/[^\s<>|]+$/.test(url)) return Mrkdwn.trusted(escapeValue(`${label} (${url})`), `${label} (${url})`);
  return Mrkdwn.trusted(`<${url}|${escapeEntities(label).replace(/\|/g, '¦')}>`, `${label} (${url})`);
}

/**
 * A time Slack renders for each reader, e.g. "3 minutes ago" for `{ago}` (so a message's age
 * stays true without redrawing it); `fallback` is shown where Slack cannot render it.
 */
export function slackDate(epochMs: number, format: string, fallback: string): Mrkdwn {
  const seconds = Math.floor(epochMs / 1000);
  return Mrkdwn.trusted(`<!date^${seconds}^${format.replace(/[|<>^]/g, '')}|${escapeEntities(fallback).replace(/\|/g, '¦')}>`, fallback);
}
