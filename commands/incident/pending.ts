/**
 * Pending migrations: the database's Alembic revision against the head the deployed backend
 * expects, read from a configurable source (database.expectedHead: a JSON endpoint such as the
 * backend's version API). With the ordered revision list the count is known: "2 pending: a → c".
 */
import type { Config } from '../../src/config.ts';
import { redact } from '../shared/redact.ts';

export interface ExpectedHead {
  head: string;
  /** Revisions oldest first, when the source lists them. */
  revisions?: string[];
}

/** Reads the expected head; a string explains why it could not. */
export async function expectedHead(http: typeof fetch, config: Config): Promise<ExpectedHead | string> {
  const source = config.database.expectedHead;
  if (!source) return 'not checked: no source of the expected head is configured (database.expectedHead)';
  try {
    const response = await http(source.url, { signal: AbortSignal.timeout(5000), headers: { Accept: 'application/json' } });
    if (!response.ok) return `not checked: ${source.url} answered ${response.status}`;
    const body = (await response.json()) as Record<string, unknown>;
    const head = body[source.field];
    if (typeof head !== 'string' || !head) return `not checked: ${source.url} has no "${source.field}"`;
    const list = body[source.revisionsField];
    const revisions = Array.isArray(list) && list.every((r) => typeof r === 'string') ? (list as string[]) : undefined;
    return { head, ...(revisions ? { revisions } : {}) };
  } catch (error) {
    return `not checked: ${source.url} did not answer (${redact((error as Error).message)})`;
  }
}

/** "up to date (c3)", "2 pending: a1 → c3", "pending: a1 → c3". */
export function pendingText(current: string | null | undefined, expected: ExpectedHead | string): { text: string; pending: boolean | undefined } {
  if (typeof expected === 'string') return { text: expected, pending: undefined };
  if (current === undefined) return { text: `not known: the database revision is not readable (expected ${expected.head})`, pending: undefined };
  const from = current ?? '(none)';
  if (current === expected.head) return { text: `up to date (${expected.head})`, pending: false };
  const at = expected.revisions ? expected.revisions.indexOf(current ?? '') : -1;
  const end = expected.revisions ? expected.revisions.indexOf(expected.head) : -1;
  if (expected.revisions && end >= 0 && (at >= 0 || current === null)) {
    const n = end - at;
    if (n < 0) return { text: `the database (${from}) is ahead of the backend's head ${expected.head}: a newer release migrated it`, pending: false };
    return { text: `${n} pending: ${from} → ${expected.head}`, pending: true };
  }
  return { text: `pending: ${from} → ${expected.head}`, pending: true };
}
