/** The pure parts of the alerts area: token check, payload schema, state digest, message text. */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.ts';
import { bearerMatches, parsePayload } from '../../commands/alerts/webhook.ts';
import { currentAlerts, stateDigest } from '../../commands/alerts/receive.ts';
import { alertApp, groupMessage } from '../../commands/alerts/view.ts';
import { sharedLabelMatchers } from '../../commands/alerts/alertmanager.ts';
import { buttonsOf } from '../harness/bot.ts';
import { renderMessage } from '../../src/render/blockkit.ts';
import { payload } from './payloads.ts';

describe('bearer token', () => {
  it('accepts exactly "Bearer <token>" and refuses everything when no token is configured', () => {
    expect(bearerMatches('Bearer s3cret', 's3cret')).toBe(true);
    expect(bearerMatches('bearer s3cret', 's3cret')).toBe(true);
    expect(bearerMatches('Bearer s3cre', 's3cret')).toBe(false);
    expect(bearerMatches('Bearer s3cret extra', 's3cret')).toBe(false);
    expect(bearerMatches('s3cret', 's3cret')).toBe(false);
    expect(bearerMatches(undefined, 's3cret')).toBe(false);
    expect(bearerMatches('Bearer ', '')).toBe(false);
    expect(bearerMatches('Bearer anything', undefined)).toBe(false);
  });
});

describe('payload', () => {
  it('accepts what Alertmanager sends (extra fields included) and names what is wrong otherwise', () => {
    const body = { ...payload({ groupKey: '{}:{a="1"}', alertname: 'HighErrorRate', severity: 'critical', alerts: [{ startsAt: '2026-11-28T10:00:00Z', fingerprint: 'f1' }] }), orgId: 1 };
    const ok = parsePayload(JSON.stringify(body));
    expect(ok.ok).toBe(true);
    const bad = parsePayload(JSON.stringify({ ...body, status: 'pending' }));
    expect(bad).toEqual({ ok: false, error: expect.stringContaining('status') });
  });

  it('digests the state, not the delivery, and keeps a late "firing" of a resolved alert resolved', () => {
    const firing = payload({ groupKey: 'g', alertname: 'X', severity: 'high', alerts: [{ startsAt: '2026-11-28T10:00:00Z', fingerprint: 'f1' }] });
    const again = { ...firing, alerts: firing.alerts.map((a) => ({ ...a, endsAt: '2026-11-28T10:05:00Z' })) };
    expect(stateDigest('firing', currentAlerts(firing, {}))).toBe(stateDigest('firing', currentAlerts(again, {})));
    expect(currentAlerts(firing, { f1: '2026-11-28T10:00:00Z' })[0]!.status).toBe('resolved');
    expect(currentAlerts(firing, { f1: '2026-11-27T08:00:00Z' })[0]!.status).toBe('firing');
  });
});

describe('status message', () => {
  const config = parseConfig({ alerts: { oncallUsergroup: 'S0ONCALL' }, deploy: { apps: { api: { deployment: 'autostack-api', image: 'registry.example/api' } } } });

  it('maps Deployment names to configured apps for the buttons', () => {
    expect(alertApp({ deployment: 'autostack-api' }, config)).toBe('api');
    expect(alertApp({ app: 'worker' }, config)).toBe('worker');
    expect(alertApp({ deployment: 'Not A Name!' }, config)).toBe('backend');
  });

  it('escapes alert text so labels cannot mention or link, and mentions on-call only for critical firing groups', () => {
    const body = payload({
      groupKey: 'g',
      alertname: 'HighErrorRate',
      severity: 'critical',
      summary: '<!channel> <https://evil.example|click> & more',
      alerts: [{ startsAt: '2026-11-28T10:00:00Z', fingerprint: 'f1', labels: { path: '<!here>' } }],
    });
    const alerts = currentAlerts(body, {});
    const message = groupMessage({ id: 'g1', alertname: 'HighErrorRate', title: 'High Error Rate', severity: 'critical', status: 'firing', alerts, payload: body }, config, new Date());
    // What Slack receives (table cells go into a code block, which the renderer escapes).
    const text = JSON.stringify(renderMessage(message).blocks);
    expect(text).not.toContain('<!channel>');
    expect(text).not.toContain('<!here>');
    expect(text).toContain('&lt;!channel&gt;');
    // The on-call group is mentioned in the message's first block (Slack notifies mentions in blocks).
    expect(JSON.stringify(renderMessage(message).blocks[0])).toContain('<!subteam^S0ONCALL> ');
    const mediumBody = payload({ groupKey: 'g2', alertname: 'HighRateLimiting', severity: 'medium', alerts: [{ startsAt: '2026-11-28T10:00:00Z', fingerprint: 'f2' }] });
    const medium = groupMessage({ id: 'g2', alertname: 'HighRateLimiting', title: 'High Rate Limiting', severity: 'medium', status: 'firing', alerts: currentAlerts(mediumBody, {}), payload: mediumBody }, config, new Date());
    expect(JSON.stringify(renderMessage(medium).blocks)).not.toContain('subteam');
  });
});

describe('Acknowledge and Silence', () => {
  const body = payload({ groupKey: 'g3', alertname: 'HighErrorRate', severity: 'critical', alerts: [{ startsAt: '2026-11-28T10:00:00Z', fingerprint: 'f3', labels: { app: 'backend' } }] });
  const view = { id: 'g3', alertname: 'HighErrorRate', title: 'High Error Rate', severity: 'critical', status: 'firing' as const, alerts: currentAlerts(body, {}), payload: body };
  const now = new Date('2026-11-28T10:10:00Z');

  it('offers no Silence buttons without alerts.alertmanager.url and says why on the message', () => {
    const message = renderMessage(groupMessage(view, parseConfig({}), now));
    expect(buttonsOf(message.blocks).map((b) => b.label)).not.toContain('Silence 1h');
    expect(buttonsOf(message.blocks).map((b) => b.label)).toContain('Acknowledge');
    expect(JSON.stringify(message.blocks)).toContain('No Silence buttons: alerts.alertmanager.url is not configured');
    const configured = renderMessage(groupMessage(view, parseConfig({ alerts: { alertmanager: { url: 'http://alertmanager:9093' } } }), now));
    expect(buttonsOf(configured.blocks).filter((b) => b.label.startsWith('Silence')).map((b) => [b.label, b.value])).toEqual([
      ['Silence 1h', 'g3 1h'],
      ['Silence 4h', 'g3 4h'],
    ]);
    // A silence that has ended offers the buttons again.
    const ended = renderMessage(groupMessage({ ...view, silence: { id: 's1', by: 'U1', endsAt: '2026-11-28T10:05:00Z', replyTs: '1.2' } }, parseConfig({ alerts: { alertmanager: { url: 'http://alertmanager:9093' } } }), now));
    expect(buttonsOf(ended.blocks).map((b) => b.label)).toContain('Silence 1h');
    expect(JSON.stringify(ended.blocks)).not.toContain('Silenced in Alertmanager');
  });

  it('silences exactly the labels the firing alerts share, as equality matchers', () => {
    expect(sharedLabelMatchers([{ alertname: 'X', instance: 'a', job: 'db' }, { alertname: 'X', instance: 'b', job: 'db' }])).toEqual([
      { name: 'alertname', value: 'X', isRegex: false, isEqual: true },
      { name: 'job', value: 'db', isRegex: false, isEqual: true },
    ]);
    expect(sharedLabelMatchers([{ a: '1' }, { b: '1' }])).toEqual([]);
    expect(sharedLabelMatchers([{ alertname: 'X', empty: '', 'bad-name': 'v' }])).toEqual([{ name: 'alertname', value: 'X', isRegex: false, isEqual: true }]);
  });
});
