/**
 * One Alertmanager notification → the group's status thread in the incident channel.
 *
 * - A group seen for the first time gets a new message (mentioning the on-call group when
 *   critical); that message is the group's thread from then on.
 * - A later notification of the group updates that message (chat.update) and, when the status
 *   or the set of firing alerts changed, adds a thread reply (firing again mentions on-call).
 * - A delivery that changes nothing (Alertmanager retrying, repeat_interval, a second replica)
 *   is recognized by the digest of the group's state and does nothing.
 * - A late retry of an older "firing" after the alert was resolved (same fingerprint and
 *   startsAt) does not reopen it.
 * - Who acknowledged and the silence made from the thread (commands/alerts/respond.ts) stay on the
 *   message; the notification is kept so that those can redraw it.
 * Deliveries of one group are serialized by a Redis lock.
 */
import type { Logger } from 'pino';
import type { Config } from '../../src/config.ts';
import type { AuditLog, Clients } from '../../src/core/types.ts';
import type { Reply } from '../../src/core/result.ts';
import { withRateLimit } from '../../src/core/thread.ts';
import { fingerprintOf } from '../../src/core/stable-json.ts';
import type { AlertStatus, AlertSummary, GroupRecord } from '../shared/alert-store.ts';
import { MAX_REMEMBERED, alertGroups, groupId } from '../shared/alert-store.ts';
import type { GroupView } from './view.ts';
import { RUNBOOK_ALERTS, alertName, changeReply, groupMessage, severityOf } from './view.ts';
import type { AlertmanagerPayload } from './webhook.ts';
import { alertFingerprint } from './webhook.ts';
import { alertChart } from './prometheus.ts';

export interface ReceiveDeps {
  config: Config;
  clients: Pick<Clients, 'redis' | 'notify' | 'clock' | 'http'>;
  audit: AuditLog;
  log: Logger;
}

export type ReceiveResult = 'opened' | 'updated' | 'duplicate';

export interface ReceiveOutcome {
  result: ReceiveResult;
  group: string;
  status: AlertStatus;
  channel: string;
  ts: string;
}

/** The bot cannot place alerts anywhere: answered 503 so Alertmanager retries once it is fixed. */
export class AlertsNotConfigured extends Error {}
/** Another delivery of the same group holds its lock for too long: answered 503 (retried). */
export class GroupBusy extends Error {}

const SLACK_WAIT_MS = 10_000;

/** The group's alerts as they stand after this notification. */
export function currentAlerts(payload: AlertmanagerPayload, resolvedBefore: Record<string, string>): AlertSummary[] {
  const seen = new Map<string, AlertSummary>();
  for (const alert of payload.alerts) {
    const fingerprint = alertFingerprint(alert);
    // A firing alert already seen resolved with the same start is a late retry: it stays resolved.
    const stale = alert.status === 'firing' && resolvedBefore[fingerprint] === alert.startsAt;
    seen.set(fingerprint, { fingerprint, status: stale ? 'resolved' : alert.status, startsAt: alert.startsAt, labels: alert.labels });
  }
  return [...seen.values()].sort((a, b) => (a.fingerprint < b.fingerprint ? -1 : a.fingerprint > b.fingerprint ? 1 : 0));
}

export function stateDigest(status: AlertStatus, alerts: AlertSummary[], truncated = 0): string {
  const state = [status, truncated, alerts.map((a) => [a.fingerprint, a.status, a.startsAt])];
  return fingerprintOf(state).slice(0, 32);
}

function rememberResolved(previous: Record<string, string>, alerts: AlertSummary[]): Record<string, string> {
  const next = { ...previous };
  for (const a of alerts) if (a.status === 'resolved') next[a.fingerprint] = a.startsAt;
  const keys = Object.keys(next);
  for (const key of keys.slice(0, Math.max(0, keys.length - MAX_REMEMBERED))) delete next[key];
  return next;
}

async function post(deps: ReceiveDeps, channel: string, message: Reply, threadTs?: string): Promise<string> {
  const ts = await withRateLimit(() => deps.clients.notify.post(channel, message, { threadTs }), SLACK_WAIT_MS);
  if (!ts) throw new Error('Slack answered chat.postMessage without a message ts');
  return ts;
}

async function update(deps: ReceiveDeps, channel: string, ts: string, message: Reply): Promise<'updated' | 'gone'> {
  try {
    await withRateLimit(() => deps.clients.notify.update(channel, ts, message), SLACK_WAIT_MS);
    return 'updated';
  } catch (error) {
    const code = (error as { data?: { error?: string } }).data?.error;
    if (code === 'message_not_found' || code === 'cant_update_message' || code === 'channel_not_found') return 'gone';
    throw error;
  }
}

export async function receiveNotification(deps: ReceiveDeps, payload: AlertmanagerPayload): Promise<ReceiveOutcome> {
  const channel = deps.config.channels.incident;
  if (!channel) throw new AlertsNotConfigured('No incident channel is configured (channels.incident): alerts have nowhere to go.');
  const store = alertGroups(deps.clients.redis, deps.config.redis.prefix);
  const id = groupId(payload.groupKey);
  const locked = await store.withLock(id, async () => {
    const now = deps.clients.clock.now();
    const existing = await store.get(id);
    const alerts = currentAlerts(payload, existing?.resolved ?? {});
    const status: AlertStatus = alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved';
    const digest = stateDigest(status, alerts, payload.truncatedAlerts);
    if (existing && existing.digest === digest) {
      return { result: 'duplicate' as const, group: id, status, channel: existing.channel, ts: existing.ts };
    }
    const alertname = alertName(payload);
    // An acknowledgement holds while the group fires; firing again after resolving needs a new one.
    const acknowledged = existing?.status === 'resolved' && status === 'firing' ? undefined : existing?.acknowledged;
    const response = { ...(acknowledged ? { acknowledged } : {}), ...(existing?.silence ? { silence: existing.silence } : {}) };
    const view: GroupView = { id, alertname, title: RUNBOOK_ALERTS[alertname]?.title ?? alertname, severity: severityOf(payload, alerts), status, alerts, payload, ...response };
    const message = groupMessage(view, deps.config, now);
    let ts = existing?.ts;
    let where = existing?.channel ?? channel;
    let result: ReceiveResult = existing ? 'updated' : 'opened';
    if (existing && (await update(deps, existing.channel, existing.ts, message)) === 'gone') ts = undefined;
    if (!ts) {
      // New group, or its message was deleted: the thread starts (again) here.
      where = channel;
      ts = await post(deps, channel, message);
      result = 'opened';
    } else {
      const change = changeReply(existing, view, deps.config, now);
      if (change) await post(deps, where, change, ts);
    }
    const record: GroupRecord = {
      id,
      groupKey: payload.groupKey,
      alertname,
      severity: view.severity,
      summary: payload.commonAnnotations.summary,
      channel: where,
      ts,
      status,
      digest,
      alerts,
      resolved: rememberResolved(existing?.resolved ?? {}, alerts),
      openedAt: existing && existing.status === 'firing' ? existing.openedAt : now.toISOString(),
      updatedAt: now.toISOString(),
      ...response,
      payload,
    };
    await store.save(record);
    if (!existing || existing.status !== status) {
      await deps.audit.record({
        actor: 'alertmanager',
        action: `alert ${status}`,
        args: { alertname, severity: view.severity, alerts: alerts.length },
        result,
        channel: where,
        detail: `group ${id}: ${payload.groupKey.slice(0, 200)}`,
      });
    }
    return { result, group: id, status, channel: where, ts };
  });
  if (!locked) throw new GroupBusy(`another delivery of alert group ${id} is still being handled`);
  if (locked.value.result === 'opened' && locked.value.status === 'firing') await postAlertChart(deps, payload, locked.value.channel, locked.value.ts);
  return locked.value;
}

/** The expression's last hour in the new thread; an extra: when it cannot be had, the alert stands without it. */
async function postAlertChart(deps: ReceiveDeps, payload: AlertmanagerPayload, channel: string, ts: string): Promise<void> {
  const url = deps.config.prometheus.url;
  if (!url) return;
  const alertname = alertName(payload);
  try {
    const chart = await alertChart(deps.clients.http, url, alertname, payload.alerts.find((a) => a.generatorURL)?.generatorURL, deps.clients.clock.now());
    if (chart) await post(deps, channel, { summary: chart.alt, parts: [{ kind: 'chart', chart }], visibility: 'channel' }, ts);
  } catch (error) {
    deps.log.warn({ err: (error as Error).message, alertname }, 'alert chart not posted');
  }
}
