/**
 * The status thread of an alert group: its parent message (a neutral Reply), the buttons for the
 * runbook's response to each of its four alerts, Acknowledge and Silence, and the thread replies
 * when the status changes.
 */
import type { Config } from '../../src/config.ts';
import { ownValue } from '../../src/core/keys.ts';
import type { Button, Part, Reply } from '../../src/core/result.ts';
import type { Text } from '../../src/core/text.ts';
import { groupMention, md, mention } from '../../src/core/text.ts';
import type { AlertSilence, AlertStatus, AlertSummary } from '../shared/alert-store.ts';
import type { AlertmanagerPayload } from './webhook.ts';

/** The runbook's alert table ("Monitoring & Alerts"), keyed by the alert names of alerts/autostack-rules.yml. */
export const RUNBOOK_ALERTS: Record<string, { title: string; condition: string; severity: string; action: string }> = {
  HighErrorRate: { title: 'High Error Rate', condition: 'error_rate > 5%', severity: 'critical', action: 'Page on-call engineer' },
  DeploymentFailed: { title: 'Deployment Failure', condition: 'deployment_failed', severity: 'high', action: 'Notify team + auto-rollback' },
  DatabaseConnectionPoolExhausted: { title: 'Database Connection Pool Exhausted', condition: 'db_connections > 90%', severity: 'critical', action: 'Scale database' },
  HighRateLimiting: { title: 'High Rate Limiting', condition: 'rate_limit_triggers > 100/min', severity: 'medium', action: 'Investigate potential DDoS' },
};

export const ACTIONS = {
  logs: 'alerts.logs',
  rollback: 'alerts.rollback',
  top: 'alerts.ratelimit.top',
  block: 'alerts.ratelimit.block',
  dbCheck: 'alerts.db.check',
  ack: 'alerts.ack',
  /** Value: the group and how long, "<group> 1h". */
  silence: 'alerts.silence',
  unsilence: 'alerts.unsilence',
  /** Link buttons: Slack still sends the click; nothing to do. */
  link: 'alerts.link',
} as const;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const IP_LABELS = ['client_ip', 'ip', 'remote_addr', 'source_ip'];


/** The lengths the Silence buttons offer. */
export const SILENCE_BUTTONS = ['1h', '4h'] as const;

export interface GroupView {
  /** The group's ID in the alert store (the value of its Acknowledge and Silence buttons). */
  id: string;
  alertname: string;
  title: string;
  severity?: string;
  status: AlertStatus;
  alerts: AlertSummary[];
  payload: AlertmanagerPayload;
  acknowledged?: { by: string; at: string };
  silence?: AlertSilence;
}

export function alertName(payload: AlertmanagerPayload): string {
  return payload.groupLabels.alertname ?? payload.commonLabels.alertname ?? payload.alerts[0]?.labels.alertname ?? 'Alert';
}

export function severityOf(payload: AlertmanagerPayload, alerts: AlertSummary[]): string | undefined {
  const direct = payload.groupLabels.severity ?? payload.commonLabels.severity;
  if (direct) return direct;
  const firing = alerts.filter((a) => a.status === 'firing').map((a) => a.labels.severity);
  return firing.includes('critical') ? 'critical' : firing.find(Boolean);
}

export function isCritical(view: Pick<GroupView, 'severity' | 'alerts'>): boolean {
  return view.severity === 'critical' || view.alerts.some((a) => a.status === 'firing' && a.labels.severity === 'critical');
}

/** Which configured app an alert is about: app/deployment labels (Deployment names map to deploy.apps), else the rate-limit app. */
export function alertApp(labels: Record<string, string>, config: Config): string {
  for (const key of ['app', 'deployment', 'app_kubernetes_io_name', 'container', 'service']) {
    const value = labels[key];
    if (!value || !DNS_LABEL.test(value)) continue;
    if (ownValue(config.deploy.apps, value)) return value;
    const byDeployment = Object.entries(config.deploy.apps).find(([, app]) => app.deployment === value);
    return byDeployment ? byDeployment[0] : value;
  }
  return config.rateLimit.app;
}

/** The buttons of the runbook's response, for a firing group. */
export function responseButtons(alertname: string, labels: Record<string, string>, config: Config): Button[] {
  const app = alertApp(labels, config);
  const logs: Button = { label: `Logs (${app})`, action: ACTIONS.logs, value: app };
  const rollback: Button = {
    label: `Roll back ${app}`,
    action: ACTIONS.rollback,
    value: JSON.stringify({ app, reason: `${RUNBOOK_ALERTS[alertname]?.title ?? alertname} alert` }),
    style: 'danger',
  };
  const dbCheck: Button = { label: 'db check', action: ACTIONS.dbCheck, value: 'db' };
  switch (alertname) {
    case 'HighRateLimiting': {
      const ip = IP_LABELS.map((k) => labels[k]).find((v) => v && /^[0-9a-fA-F:.]{2,45}(\/\d{1,3})?$/.test(v)) ?? '';
      return [
        { label: 'Show top offenders', action: ACTIONS.top, value: app, style: 'primary' },
        { label: ip ? `Block ${ip}` : 'Block IP', action: ACTIONS.block, value: ip, style: 'danger' },
        logs,
      ];
    }
    case 'DeploymentFailed':
      return [logs, rollback];
    case 'DatabaseConnectionPoolExhausted':
      return [dbCheck, logs];
    case 'HighErrorRate':
      return [logs, rollback, dbCheck];
    default:
      return [logs];
  }
}

/** The group's silence while it has not ended (one expired from the thread is removed from the record). */
export function activeSilence(silence: AlertSilence | undefined, now: Date): AlertSilence | undefined {
  return silence && Date.parse(silence.endsAt) > now.getTime() ? silence : undefined;
}

/** Who acknowledged and who silenced until when, and the buttons for what is not done yet (a firing group's). */
function responseState(view: GroupView, config: Config, now: Date): { lines: Text[]; buttons: Button[] } {
  const lines: Text[] = [];
  const buttons: Button[] = [];
  if (view.acknowledged) lines.push(md`:eyes: Acknowledged by ${mention(view.acknowledged.by)} at ${when(view.acknowledged.at)}`);
  const silence = activeSilence(view.silence, now);
  if (silence) lines.push(md`:no_bell: Silenced in Alertmanager by ${mention(silence.by)} until ${when(silence.endsAt)}`);
  if (view.status !== 'firing') return { lines, buttons };
  if (!view.acknowledged) buttons.push({ label: 'Acknowledge', action: ACTIONS.ack, value: view.id, style: 'primary' });
  if (!config.alerts.alertmanager.url) lines.push('No Silence buttons: alerts.alertmanager.url is not configured, so the bot cannot reach Alertmanager.');
  else if (!silence) for (const length of SILENCE_BUTTONS) buttons.push({ label: `Silence ${length}`, action: ACTIONS.silence, value: `${view.id} ${length}` });
  return { lines, buttons };
}

export function when(iso: string | undefined): string {
  if (!iso || iso.startsWith('0001-')) return '—';
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso.slice(0, 40) : `${new Date(t).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function labelText(labels: Record<string, string>, skip: Set<string>): string {
  const text = Object.entries(labels)
    .filter(([k]) => !skip.has(k))
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  return text.length > 200 ? `${text.slice(0, 199)}…` : text;
}

function httpUrl(value: string | undefined): string | undefined {
  if (!value) return undefined;
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.toString() : undefined;
  } catch {
    return undefined;
  }
}

/** The parent message of a group's status thread. */
export function groupMessage(view: GroupView, config: Config, now: Date): Reply {
  const { payload, alerts } = view;
  const firing = alerts.filter((a) => a.status === 'firing');
  const resolved = alerts.length - firing.length;
  const runbook = RUNBOOK_ALERTS[view.alertname];
  const critical = isCritical(view);
  const mention = view.status === 'firing' && critical && config.alerts.oncallUsergroup ? md`${groupMention(config.alerts.oncallUsergroup)} ` : '';
  const label = view.status === 'firing' ? `[FIRING:${firing.length}]` : '[RESOLVED]';
  const icon = view.status === 'firing' ? (critical ? ':rotating_light:' : ':warning:') : ':white_check_mark:';
  const parts: Part[] = [{ kind: 'text', text: md`${mention}${icon} *${label} ${view.title}*${view.severity ? md` — ${view.severity}` : ''}` }];
  const summary = payload.commonAnnotations.summary ?? payload.alerts[0]?.annotations.summary;
  const description = payload.commonAnnotations.description ?? (payload.alerts.length === 1 ? payload.alerts[0]?.annotations.description : undefined);
  if (summary || description) parts.push({ kind: 'text', text: [summary, description].filter(Boolean).join('\n') });
  const since = alerts.map((a) => a.startsAt).filter((s) => !s.startsWith('0001-')).sort()[0];
  const fields: Array<readonly [string, Text]> = [
    ['Status', view.status === 'firing' ? `firing (${firing.length}${resolved ? `, ${resolved} resolved` : ''})` : `resolved at ${when(now.toISOString())}`],
    ['Since', when(since)],
  ];
  const action = payload.commonAnnotations.action ?? runbook?.action;
  if (action) fields.push(['Runbook action', action]);
  if (runbook) fields.push(['Runbook alert', `${runbook.title}: ${runbook.condition}`]);
  const grouped = labelText(payload.groupLabels, new Set());
  if (grouped) fields.push(['Group', grouped]);
  parts.push({ kind: 'fields', fields });
  const skip = new Set(['alertname', 'severity', ...Object.keys(payload.commonLabels)]);
  if (alerts.length > 1 || (alerts[0] && labelText(alerts[0].labels, skip))) {
    const rows = alerts.slice(0, 15).map((a) => [a.status, labelText(a.labels, skip) || '—', when(a.startsAt)]);
    parts.push({ kind: 'table', columns: ['status', 'labels', 'since'], rows });
    if (alerts.length > 15) parts.push({ kind: 'context', text: `…and ${alerts.length - 15} more alerts.` });
  }
  if (payload.truncatedAlerts) parts.push({ kind: 'context', text: `Alertmanager left out ${payload.truncatedAlerts} alerts of this group (max_alerts).` });
  const response = responseState(view, config, now);
  for (const line of response.lines) parts.push({ kind: 'context', text: line });
  const buttons: Button[] = view.status === 'firing' ? [...responseButtons(view.alertname, { ...payload.commonLabels, ...(firing[0]?.labels ?? {}) }, config), ...response.buttons] : [];
  const source = httpUrl(payload.alerts.find((a) => a.status === 'firing')?.generatorURL ?? payload.alerts[0]?.generatorURL);
  if (source) buttons.push({ label: 'Alert source', action: ACTIONS.link, value: 'source', url: source });
  const am = httpUrl(payload.externalURL);
  if (am) buttons.push({ label: 'Alertmanager', action: ACTIONS.link, value: 'alertmanager', url: am });
  if (buttons.length) parts.push({ kind: 'buttons', buttons });
  parts.push({ kind: 'context', text: md`Alertmanager receiver ${payload.receiver} · updated ${when(now.toISOString())} · one thread per alert group: updates and resolution come here` });
  return { summary: `${label} ${view.title}${view.severity ? ` (${view.severity})` : ''}`, parts, visibility: 'channel' };
}

/** The thread reply for a change, or undefined when nothing a reader needs changed. */
export function changeReply(before: { status: AlertStatus; alerts: AlertSummary[] } | undefined, view: GroupView, config: Config, now: Date): Reply | undefined {
  if (!before) return undefined;
  const firingNow = new Set(view.alerts.filter((a) => a.status === 'firing').map((a) => a.fingerprint));
  const firingBefore = new Set(before.alerts.filter((a) => a.status === 'firing').map((a) => a.fingerprint));
  const skip = new Set(['alertname', 'severity']);
  const describe = (a: AlertSummary) => labelText(a.labels, skip) || a.fingerprint;
  if (before.status === 'firing' && view.status === 'resolved') {
    const text = `:white_check_mark: Resolved at ${when(now.toISOString())}: ${view.title} is no longer firing.`;
    return { summary: `Resolved: ${view.title}`, parts: [{ kind: 'text', text }], visibility: 'channel' };
  }
  if (before.status === 'resolved' && view.status === 'firing') {
    const mention = isCritical(view) && config.alerts.oncallUsergroup ? md`${groupMention(config.alerts.oncallUsergroup)} ` : '';
    const text = md`${mention}:rotating_light: Firing again: ${view.title} (${firingNow.size} alert${firingNow.size === 1 ? '' : 's'}).`;
    return { summary: `Firing again: ${view.title}`, parts: [{ kind: 'text', text }], visibility: 'channel' };
  }
  const started = view.alerts.filter((a) => firingNow.has(a.fingerprint) && !firingBefore.has(a.fingerprint));
  const ended = before.alerts.filter((a) => firingBefore.has(a.fingerprint) && !firingNow.has(a.fingerprint));
  if (!started.length && !ended.length) return undefined;
  const lines = [`:information_source: Now ${firingNow.size} firing (was ${firingBefore.size}).`];
  if (started.length) lines.push(`New: ${started.slice(0, 10).map(describe).join('; ')}`);
  if (ended.length) lines.push(`Resolved: ${ended.slice(0, 10).map(describe).join('; ')}`);
  return { summary: `${view.title}: ${firingNow.size} firing`, parts: [{ kind: 'text', text: lines.join('\n') }], visibility: 'channel' };
}
