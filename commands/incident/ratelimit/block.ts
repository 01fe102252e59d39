/**
 * Blocking and unblocking, shared by the verbs, the "Block" buttons and the TTL job.
 *
 * Order of a block, so that a failure at any step leaves things as they were:
 *   1. the record is written (with the new "until"), remembering the record it replaces;
 *   2. the unblock job is scheduled for "until" (a delayed BullMQ job: it lives in Redis and
 *      survives restarts); it only acts if the record still says that same "until";
 *   3. the network is added to the backend's list.
 * If 2 or 3 fails, the previous record is put back, so an already scheduled job does nothing.
 * Blocking a network that is already blocked renews it: the newest "until" wins.
 */
import type { AuditLog, Clients, JobLauncher } from '../../../src/core/types.ts';
import { UserFacingError } from '../../../src/core/types.ts';
import type { Config } from '../../../src/config.ts';
import { backendFor, configuredTarget, describeTarget } from './blocklist.ts';
import type { BackendClients, BlockTarget } from './blocklist.ts';
import { BlockRecords, blocksKey } from '../../shared/block-records.ts';
import type { BlockRecord } from '../../shared/block-records.ts';

export const UNBLOCK_JOB = 'ratelimit-unblock';

export interface UnblockJobData {
  cidr: string;
  /** ISO time the block was set to end; the job does nothing if the block was renewed since. */
  until: string;
}

/** Job ids may not contain ":" (BullMQ), IPv6 networks do. */
export function unblockJobId(cidr: string, untilMs: number): string {
  return `unblock-${cidr.replace(/[:/]/g, '_')}-${untilMs}`;
}

export interface BlockRequest {
  cidr: string;
  kind: 'ipv4' | 'ipv6';
  ttlMs: number;
  reason: string;
  forced: boolean;
}

export interface BlockDeps {
  config: Config;
  clients: Clients;
  jobs: JobLauncher;
  audit: AuditLog;
  actorId: string;
  channel: string;
  /** Thread to report the scheduled unblock in (optional). */
  threadTs?: string;
}

export interface BlockOutcome {
  record: BlockRecord;
  previous: BlockRecord | undefined;
  /** False when the network already was in the list (the block was renewed). */
  added: boolean;
  entries: number;
}

export function backendClients(clients: Clients, onBehalfOf: string): BackendClients {
  return { kube: () => clients.kube(), wafv2: () => clients.aws(onBehalfOf).wafv2 };
}

export function records(config: Config, clients: Pick<Clients, 'redis'>): BlockRecords {
  return new BlockRecords(clients.redis, blocksKey(config.redis.prefix));
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export async function applyBlock(deps: BlockDeps, request: BlockRequest): Promise<BlockOutcome> {
  const target = configuredTarget(deps.config, request.kind);
  const store = records(deps.config, deps.clients);
  const now = deps.clients.clock.now().getTime();
  const untilMs = now + request.ttlMs;
  const record: BlockRecord = {
    cidr: request.cidr,
    by: deps.actorId,
    reason: request.reason,
    at: iso(now),
    until: iso(untilMs),
    target,
    ...(request.forced ? { forced: true } : {}),
    channel: deps.channel,
  };
  const previous = await store.get(request.cidr);
  await store.put(record);
  let change;
  try {
    await deps.jobs.start<UnblockJobData>(UNBLOCK_JOB, { cidr: request.cidr, until: record.until }, {
      channel: deps.channel,
      requestedBy: deps.actorId,
      threadTs: deps.threadTs,
      delayMs: request.ttlMs,
      jobId: unblockJobId(request.cidr, untilMs),
    });
    change = await backendFor(target, backendClients(deps.clients, deps.actorId)).add(request.cidr);
  } catch (error) {
    await store.restore(request.cidr, previous).catch(() => undefined);
    if (error instanceof UserFacingError) throw error;
    throw new UserFacingError(`Blocking ${request.cidr} failed: ${(error as Error).message}. Nothing was blocked.`);
  }
  await deps.audit
    .record({
      actor: deps.actorId,
      action: 'ratelimit block applied',
      args: { cidr: request.cidr, until: record.until, forced: request.forced },
      result: change.changed ? 'added' : 'renewed',
      channel: deps.channel,
      detail: `${describeTarget(target)}; reason: ${request.reason || '(none)'}`,
    })
    .catch(() => undefined);
  return { record, previous, added: change.changed, entries: change.entries };
}

export interface UnblockOutcome {
  cidr: string;
  target: BlockTarget;
  /** False when the network was not in the list. */
  removed: boolean;
  record: BlockRecord | undefined;
  entries: number;
}

/** Removes a block by hand: from where its record says (or the configured list) and its record. */
export async function removeBlock(deps: Omit<BlockDeps, 'jobs'>, cidr: string, kind: 'ipv4' | 'ipv6'): Promise<UnblockOutcome> {
  const store = records(deps.config, deps.clients);
  const record = await store.get(cidr);
  const target = record?.target ?? configuredTarget(deps.config, kind);
  const change = await backendFor(target, backendClients(deps.clients, deps.actorId)).remove(cidr);
  if (!record && !change.changed) {
    throw new UserFacingError(`${cidr} is not blocked: it is neither in ${describeTarget(target)} nor in the bot's block records. Nothing was changed.`, 'See `/autostack ratelimit blocks`.');
  }
  // The scheduled unblock job finds no record and does nothing.
  if (record) await store.delete(record, deps.clients.clock.now());
  await deps.audit
    .record({ actor: deps.actorId, action: 'ratelimit unblock applied', args: { cidr }, result: change.changed ? 'removed' : 'record only', channel: deps.channel, detail: describeTarget(target) })
    .catch(() => undefined);
  return { cidr, target, removed: change.changed, record, entries: change.entries };
}

export type ExpireOutcome =
  | { kind: 'unblocked'; record: BlockRecord; removed: boolean; entries: number }
  | { kind: 'no-record' }
  | { kind: 'renewed'; record: BlockRecord };

/** The TTL job: removes the block if its record still ends at `until`. Safe to run twice. */
export async function expireBlock(
  deps: { config: Config; clients: Clients; audit: AuditLog; requestedBy: string },
  data: UnblockJobData,
  onStep: (text: string) => Promise<void> = async () => undefined,
): Promise<ExpireOutcome> {
  const store = records(deps.config, deps.clients);
  const record = await store.get(data.cidr);
  if (!record) return { kind: 'no-record' };
  if (record.until !== data.until) return { kind: 'renewed', record };
  const backend = backendFor(record.target, backendClients(deps.clients, deps.requestedBy));
  await onStep(`Removing ${data.cidr} from ${describeTarget(record.target)}`);
  const change = await backend.remove(data.cidr);
  const deleted = await store.deleteIfUnchanged(record, deps.clients.clock.now());
  if (!deleted) {
    // Renewed while we were removing it: the newer block must stay in force.
    const current = await store.get(data.cidr);
    if (current) {
      await backendFor(current.target, backendClients(deps.clients, deps.requestedBy)).add(data.cidr);
      return { kind: 'renewed', record: current };
    }
  }
  await deps.audit
    .record({ actor: record.by, action: 'ratelimit unblock applied', args: { cidr: data.cidr, until: data.until }, result: change.changed ? 'expired: removed' : 'expired: was not in the list', detail: describeTarget(record.target) })
    .catch(() => undefined);
  return { kind: 'unblocked', record, removed: change.changed, entries: change.entries };
}
