/**
 * The one vocabulary of secret-looking names, used wherever a value is hidden by the name it goes
 * by: fields of log lines (src/logger.ts), audit arguments (src/core/redact.ts) and `key=value`
 * pairs in text shown to people (commands/shared/redact.ts).
 */

/** Words that mark a name as holding a secret, as regular-expression source. */
const SECRET_WORDS = 'password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private|credentials?|authorization|cookie|session[_-]?id|signing';

/**
 * A secret-looking name inside text, e.g. `DB_PASSWORD`, `client_secret`, `X-Api-Key`, as
 * regular-expression source for rules that embed it (bounded, so matching stays linear).
 */
export const SECRET_NAME_SOURCE = `[A-Za-z0-9_.-]{0,40}(?:${SECRET_WORDS})[A-Za-z0-9_.-]{0,40}`;

const SECRET_NAME = new RegExp(SECRET_WORDS, 'i');

/** Whether a field, flag or parameter named `name` holds a secret. */
export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}
