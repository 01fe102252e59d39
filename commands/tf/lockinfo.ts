/**
 * Terraform's LockInfo (internal/states/statemgr/locker.go): the JSON Terraform stores in the
 * DynamoDB lock item's Info attribute and as the body of the S3 lock file. Go marshals the struct
 * fields in declaration order, which `marshalLockInfo` keeps, so a lock the bot takes reads like one
 * Terraform took (`terraform force-unlock` and "Error acquiring the state lock" show it as usual).
 */
import { randomUUID } from 'node:crypto';

export interface LockInfo {
  ID: string;
  Operation: string;
  Info: string;
  Who: string;
  Version: string;
  /** RFC 3339 with up to nanoseconds, UTC, e.g. "2026-11-28T20:23:04.125767468Z". */
  Created: string;
  Path: string;
}

/**
 * The operation `terraform state push` locks with (command/state_push.go:
 * `stateLocker.Lock(stateMgr, "state-push")`). A restore replaces the state the same way.
 */
export const STATE_PUSH_OPERATION = 'state-push';

/** Who the bot's own locks name: `autostack-chatops:<Slack user ID>`. */
export function botWho(slackUserId: string): string {
  return `autostack-chatops:${slackUserId}`;
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** Parses a LockInfo JSON; undefined when it is not a JSON object (an unreadable lock). */
export function parseLockInfo(raw: string): LockInfo | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const o = parsed as Record<string, unknown>;
  return {
    ID: text(o.ID),
    Operation: text(o.Operation),
    Info: text(o.Info),
    Who: text(o.Who),
    Version: text(o.Version),
    Created: text(o.Created),
    Path: text(o.Path),
  };
}

/** Compact JSON in Go's field order, like `json.Marshal(LockInfo)`. */
export function marshalLockInfo(info: LockInfo): string {
  return JSON.stringify({
    ID: info.ID,
    Operation: info.Operation,
    Info: info.Info,
    Who: info.Who,
    Version: info.Version,
    Created: info.Created,
    Path: info.Path,
  });
}

/** A fresh lock like `statemgr.NewLockInfo()` + the S3 backend's Lock(): new UUID, UTC time, path. */
export function newLockInfo(options: { operation: string; who: string; path: string; info?: string; version?: string; now: Date }): LockInfo {
  return {
    ID: randomUUID(),
    Operation: options.operation,
    Info: options.info ?? '',
    Who: options.who,
    // Terraform puts its own version here; the bot is not Terraform, so it leaves it empty
    // rather than claim one.
    Version: options.version ?? '',
    Created: options.now.toISOString(),
    Path: options.path,
  };
}

/** When the lock was taken, or undefined when Created is missing or unreadable. */
export function lockCreated(info: LockInfo | undefined): Date | undefined {
  if (!info?.Created) return undefined;
  const t = Date.parse(info.Created);
  return Number.isNaN(t) ? undefined : new Date(t);
}

