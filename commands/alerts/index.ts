/**
 * Monitoring & Alerts: POST /alerts receives Alertmanager webhooks (bearer token
 * alerts.token) and keeps one status thread per alert group in the incident channel, with the
 * runbook's response buttons, Acknowledge and Silence (respond.ts, through Alertmanager's API at
 * alerts.alertmanager.url); `alerts` lists the open ones; the Home tab shows them with the
 * Terraform lock state and the last backup. The runbook's alert rules ship in
 * alerts/autostack-rules.yml. See docs/alerts.md.
 */
import type { CommandModule, HttpRoute, Verb } from '../../src/core/types.ts';
import { reply } from '../../src/core/result.ts';
import { alertActions } from './actions.ts';
import { alertsHome, openAlertsText } from './home.ts';
import { respondVerbs } from './respond.ts';
import { AlertsNotConfigured, GroupBusy, receiveNotification } from './receive.ts';
import { BodyTooLarge, bearerMatches, parsePayload, readBody } from './webhook.ts';
import { triageActions, triageOnNotification, triageVerb } from './triage/index.ts';

export { receiveNotification } from './receive.ts';
export { alertGroups } from '../shared/alert-store.ts';
export { RUNBOOK_ALERTS } from './view.ts';

export const ALERTS_PATH = '/alerts';

function send(res: import('node:http').ServerResponse, status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export const alertsRoute: HttpRoute = {
  method: 'POST',
  path: ALERTS_PATH,
  async handle(req, res, deps) {
    if (!bearerMatches(req.headers.authorization, deps.config.alerts.token)) {
      if (!deps.config.alerts.token) deps.log.warn('POST /alerts refused: alerts.token (AUTOSTACK_ALERTS_TOKEN) is not configured');
      req.resume();
      return send(res, 401, { error: 'unauthorized' }, { 'www-authenticate': 'Bearer realm="autostack-alerts"' });
    }
    let text: string;
    try {
      text = await readBody(req);
    } catch (error) {
      if (error instanceof BodyTooLarge) return send(res, 413, { error: error.message });
      throw error;
    }
    const parsed = parsePayload(text);
    // 4xx: Alertmanager does not retry these (the same payload would fail again).
    if (!parsed.ok) return send(res, 400, { error: parsed.error });
    try {
      const outcome = await receiveNotification(deps, parsed.payload);
      // The thread is placed: a triage that cannot start is logged, never retried by Alertmanager.
      const triage = await triageOnNotification(deps, outcome, parsed.payload).catch((error: Error) => {
        deps.log.error({ err: error.message, group: outcome.group }, 'alert triage could not start');
        return 'failed to start' as const;
      });
      return send(res, 200, { ok: true, ...outcome, triage });
    } catch (error) {
      // 5xx: Alertmanager retries the notification.
      if (error instanceof AlertsNotConfigured || error instanceof GroupBusy) return send(res, 503, { error: error.message });
      deps.log.error({ err: (error as Error).message, groupKey: parsed.payload.groupKey.slice(0, 200) }, 'alert notification failed');
      return send(res, 500, { error: 'the alert could not be posted; Alertmanager will retry' });
    }
  },
};

export const alertsVerb: Verb<Record<string, never>> = {
  path: ['alerts'],
  section: 'monitoring',
  runbookStep: 'Alert Thresholds: error rate > 5%, deployment failed, db connections > 90%, rate limit triggers > 100/min',
  summary: 'Alert groups firing now, with links to their status threads in the incident channel',
  usage: '',
  minRole: 'viewer',
  guard: 'none',
  parse: () => ({}),
  async execute(_params, ctx) {
    const text = await openAlertsText(ctx);
    return reply(text === 'None firing.' ? 'No alert is firing.' : 'Open alerts', [{ kind: 'heading', text: 'Open alerts' }, { kind: 'text', text }]);
  },
};

export const alertsModule: CommandModule = {
  area: 'alerts',
  verbs: [alertsVerb, ...respondVerbs, triageVerb],
  actions: [...alertActions, ...triageActions],
  routes: [alertsRoute],
  home: alertsHome,
};
