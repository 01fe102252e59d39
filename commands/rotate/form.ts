/**
 * The one-time form, served by the bot's own HTTP server (module routes):
 *
 *   GET  /rotate/form/<token>   a minimal page: client ID (text) and client secret (password field)
 *   POST /rotate/form/<token>   validates, uses the link up, seals the secret, stores the values
 *                               under a form id bound to the link's user, and gives that user,
 *                               privately in Slack, an "Apply in Slack" button that requests the
 *                               approval (`/autostack rotate <provider> apply --form <id>`); the
 *                               page links back to that channel.
 *
 * The token doubles as the CSRF token (hidden field, must equal the one in the path); a POST from
 * another origin is refused. Every answer is `Cache-Control: no-store` and `Referrer-Policy:
 * no-referrer`, and nothing here logs the token or a value.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpRoute, RuntimeDeps } from '../../src/core/types.ts';
import type { OAuthProvider } from './records.ts';
import { PROVIDER_CONSOLE, PROVIDER_LABEL } from './oauth.ts';
import { clientIdProblem, clientSecretProblem } from './secret.ts';
import { consumeLink, peekLink, storeFormValues } from './staged.ts';
import type { LinkRecord, LinkState } from './staged.ts';
import { md } from '../../src/core/text.ts';
import { reply } from '../../src/core/result.ts';

/** The "Apply in Slack" button of the form's notice: `rotate <provider> apply --form <id>` for whoever clicks. */
export const APPLY_FORM_ACTION = 'rotate.apply-form';

export const FORM_PATH = '/rotate/form/:token';
const MAX_BODY_BYTES = 16 * 1024;

const HEADERS = {
  'Content-Type': 'text/html; charset=utf-8',
  'Cache-Control': 'no-store',
  Pragma: 'no-cache',
  'Referrer-Policy': 'no-referrer',
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
} as const;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex">
<title>${escapeHtml(title)} · AutoStack ChatOps</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;line-height:1.45}label{display:block;margin-top:1rem;font-weight:600}input[type=text],input[type=password]{width:100%;padding:.4rem;font-size:1rem;box-sizing:border-box}button{margin-top:1.25rem;padding:.5rem 1rem;font-size:1rem}.error{color:#a00}code{background:#f3f3f3;padding:.1rem .3rem}</style>
</head><body>
<h1>${escapeHtml(title)}</h1>
${body}
</body></html>`;
}

function send(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, { ...HEADERS, 'Content-Length': Buffer.byteLength(html) });
  res.end(html);
}

/** The token from /rotate/form/<token> (Bolt gives it as a param; read from the URL either way). */
function tokenOf(req: IncomingMessage): string {
  const path = (req.url ?? '').split('?')[0] ?? '';
  const match = /^\/rotate\/form\/([^/]+)$/.exec(path);
  return match ? decodeURIComponent(match[1]!) : '';
}

function refusal(res: ServerResponse, state: Exclude<LinkState, { ok: true }>): void {
  const why = {
    used: 'This link was already used: each link works once.',
    expired: 'This link has expired: links work for 10 minutes.',
    unknown: 'This link is not valid: it was already used, has expired, or was never issued.',
  }[state.why];
  send(
    res,
    410,
    page('Link no longer valid', `<p class="error" id="refused">${escapeHtml(why)}</p><p>Nothing was changed. Ask for a new link in Slack with <code>/autostack rotate github</code> or <code>/autostack rotate google</code>.</p>`),
  );
}

function formPage(token: string, link: LinkRecord, problem?: string, clientId = ''): string {
  const label = PROVIDER_LABEL[link.provider];
  const id = link.provider === 'github' ? 'GITHUB_CLIENT_ID' : 'GOOGLE_CLIENT_ID';
  const error = problem ? `<p class="error" id="problem">${escapeHtml(problem)}</p>` : '';
  return page(
    `New ${label} OAuth credentials`,
    `<p>Create the new credentials at <code>${escapeHtml(PROVIDER_CONSOLE[link.provider])}</code> and paste them here. They are sealed as soon as they arrive and never shown again; the approval shows the client ID and a fingerprint of the secret only.</p>
<p>This link works once, for the person it was sent to in Slack, until ${escapeHtml(new Date(link.expiresAt).toISOString().slice(11, 16))} UTC.</p>
${error}<form method="post" autocomplete="off">
<input type="hidden" name="token" value="${escapeHtml(token)}">
<label for="client_id">Client ID (${id})</label><input type="text" id="client_id" name="client_id" value="${escapeHtml(clientId)}" required spellcheck="false" autocapitalize="off">
<label for="client_secret">Client secret</label><input type="password" id="client_secret" name="client_secret" required autocomplete="new-password">
<button type="submit" id="submit">Submit</button>
</form>`,
  );
}

function readForm(req: IncomingMessage): Promise<URLSearchParams | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        resolve('too-large');
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))));
    req.on('error', reject);
  });
}

/**
 * A POST must come from the page itself. Browsers say where a request comes from in
 * Sec-Fetch-Site; with `Referrer-Policy: no-referrer` they send `Origin: null`, so an Origin is
 * only compared when it names one. (The token in the hidden field is what an attacker lacks.)
 */
function crossOrigin(req: IncomingMessage, deps: RuntimeDeps): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined) return site !== 'same-origin';
  const origin = req.headers.origin;
  if (origin === undefined || origin === 'null') return false;
  const publicUrl = deps.config.http.publicUrl;
  return !publicUrl || origin !== new URL(publicUrl).origin;
}

async function showForm(req: IncomingMessage, res: ServerResponse, deps: RuntimeDeps): Promise<void> {
  const token = tokenOf(req);
  const state = await peekLink(deps.clients.redis, deps.config.redis.prefix, token, deps.clients.clock.now());
  if (!state.ok) return refusal(res, state);
  send(res, 200, formPage(token, state.link));
}

async function submitForm(req: IncomingMessage, res: ServerResponse, deps: RuntimeDeps): Promise<void> {
  const token = tokenOf(req);
  const redis = deps.clients.redis;
  const prefix = deps.config.redis.prefix;
  if (crossOrigin(req, deps)) {
    send(res, 403, page('Refused', '<p class="error" id="refused">This form can only be submitted from its own page.</p>'));
    return;
  }
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    send(res, 415, page('Refused', '<p class="error" id="refused">Unexpected request format.</p>'));
    return;
  }
  const form = await readForm(req);
  if (form === 'too-large') {
    send(res, 413, page('Refused', '<p class="error" id="refused">The submitted form is too large.</p>'));
    return;
  }
  if (form.get('token') !== token) {
    send(res, 403, page('Refused', '<p class="error" id="refused">This submission does not belong to this link. Nothing was changed.</p>'));
    return;
  }
  const peeked = await peekLink(redis, prefix, token, deps.clients.clock.now());
  if (!peeked.ok) return refusal(res, peeked);
  const provider: OAuthProvider = peeked.link.provider;
  const clientId = (form.get('client_id') ?? '').trim();
  const clientSecret = form.get('client_secret') ?? '';
  // Invalid input keeps the link usable: the page comes back with the problem (never the secret).
  const problem = clientIdProblem(provider, clientId) ?? clientSecretProblem(clientSecret);
  if (problem) {
    send(res, 422, formPage(token, peeked.link, problem, clientIdProblem(provider, clientId) ? '' : clientId));
    return;
  }
  const now = deps.clients.clock.now();
  const consumed = await consumeLink(redis, prefix, token, now);
  if (!consumed.ok) return refusal(res, consumed);
  const link = consumed.link;
  const values = await storeFormValues(redis, deps.config, deps.secrets, { user: link.user, provider, channel: link.channel, clientId, clientSecret }, now);
  const command = `/autostack rotate ${provider} apply --form ${values.id}`;
  await deps.audit.record({
    actor: link.user,
    action: `rotate ${provider} form`,
    result: 'values received',
    channel: link.channel,
    detail: `form ${values.id}: client ID ${clientId}, secret ${values.fingerprint}`,
  });
  // The request is made in Slack, privately, with one click.
  const received = md`New ${PROVIDER_LABEL[provider]} OAuth credentials received through the one-time form (client ID ${clientId}, secret ${values.fingerprint}). Nothing has changed yet: request the rotation with the button; an approver other than you must approve it.`;
  await deps.clients.notify
    .ephemeral(
      link.channel,
      link.user,
      reply(received, [
        { kind: 'text', text: received },
        { kind: 'buttons', buttons: [{ label: 'Apply in Slack', action: APPLY_FORM_ACTION, value: `${provider}:${values.id}`, style: 'primary' }] },
        { kind: 'context', text: `Typing \`${command}\` does the same.` },
      ]),
    )
    .catch((error: Error) => deps.log.warn({ err: error.message, form: values.id }, 'rotation form: the Slack notice failed'));
  send(
    res,
    200,
    page(
      'Values received',
      `<p id="received">The new ${escapeHtml(PROVIDER_LABEL[provider])} OAuth credentials were received and sealed.</p>
<ul><li>Client ID: <code id="client-id">${escapeHtml(clientId)}</code></li><li>Secret fingerprint: <code id="fingerprint">${escapeHtml(values.fingerprint)}</code></li></ul>
<p>Nothing has changed yet. Request the rotation in Slack (an approver must approve it): your private message from AutoStack there has an <b>Apply in Slack</b> button.</p>
<p><a id="apply" href="${escapeHtml(slackChannelUrl(link.channel))}">Apply in Slack</a></p>
<p>Or type it: <code id="command">${escapeHtml(command)}</code></p>
<p>The values are kept for a limited time and only for you; this link no longer works.</p>`,
    ),
  );
}

/** Opens the channel the link was asked for in the Slack app (its private message has the button). */
function slackChannelUrl(channel: string): string {
  return `https://slack.com/app_redirect?channel=${encodeURIComponent(channel)}`;
}

export const formRoutes: HttpRoute[] = [
  { method: 'GET', path: FORM_PATH, handle: showForm },
  { method: 'POST', path: FORM_PATH, handle: submitForm },
];
