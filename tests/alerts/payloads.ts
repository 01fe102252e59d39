/** Alertmanager webhook payloads (version 4) as Alertmanager sends them. */
import type { AlertmanagerPayload } from '../../commands/alerts/webhook.ts';
import { RUNBOOK_ALERTS } from '../../commands/alerts/view.ts';

export interface AlertInput {
  status?: 'firing' | 'resolved';
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  startsAt: string;
  endsAt?: string;
  fingerprint: string;
}

export const NEVER = '0001-01-01T00:00:00Z';

export function payload(options: {
  groupKey: string;
  alertname: string;
  severity: string;
  alerts: AlertInput[];
  groupLabels?: Record<string, string>;
  commonLabels?: Record<string, string>;
  summary?: string;
}): AlertmanagerPayload {
  const alerts = options.alerts.map((a) => ({
    status: a.status ?? 'firing',
    labels: { alertname: options.alertname, severity: options.severity, ...a.labels },
    annotations: { summary: options.summary ?? `${options.alertname} is firing`, ...a.annotations },
    startsAt: a.startsAt,
    endsAt: a.endsAt ?? NEVER,
    generatorURL: `http://prometheus.example:9090/graph?g0.expr=${encodeURIComponent(options.alertname)}`,
    fingerprint: a.fingerprint,
  }));
  return {
    version: '4',
    groupKey: options.groupKey,
    truncatedAlerts: 0,
    status: alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
    receiver: 'autostack-chatops',
    groupLabels: options.groupLabels ?? { alertname: options.alertname },
    commonLabels: options.commonLabels ?? { alertname: options.alertname, severity: options.severity },
    commonAnnotations: { summary: options.summary ?? `${options.alertname} is firing`, action: RUNBOOK_ALERTS[options.alertname]?.action ?? 'Investigate' },
    externalURL: 'http://alertmanager.example:9093',
    alerts,
  };
}
