/**
 * The Alertmanager webhook: the payload it POSTs (webhook_config, payload version "4") and the
 * request checks of POST /alerts: bearer token (constant-time), size limit, JSON, schema.
 *
 *   { "version": "4", "groupKey": "{}:{alertname=\"HighErrorRate\"}", "truncatedAlerts": 0,
 *     "status": "firing" | "resolved", "receiver": "autostack-chatops",
 *     "groupLabels": {...}, "commonLabels": {...}, "commonAnnotations": {...},
 *     "externalURL": "http://alertmanager:9093",
 *     "alerts": [{ "status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint" }] }
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import { fingerprintOf } from '../../src/core/stable-json.ts';

export const MAX_BODY_BYTES = 1024 * 1024;
export const MAX_ALERTS = 1000;

const labels = z.record(z.string(), z.string());

export const alertSchema = z.object({
  status: z.enum(['firing', 'resolved']),
  labels,
  annotations: labels.default({}),
  startsAt: z.string().max(64),
  endsAt: z.string().max(64).optional(),
  generatorURL: z.string().max(4096).optional(),
  fingerprint: z.string().max(128).optional(),
});

export const payloadSchema = z.object({
  version: z.literal('4'),
  groupKey: z.string().min(1).max(8192),
  truncatedAlerts: z.number().int().min(0).optional(),
  status: z.enum(['firing', 'resolved']),
  receiver: z.string().max(512),
  groupLabels: labels.default({}),
  commonLabels: labels.default({}),
  commonAnnotations: labels.default({}),
  externalURL: z.string().max(4096).default(''),
  alerts: z.array(alertSchema).max(MAX_ALERTS),
});

export type AlertmanagerPayload = z.infer<typeof payloadSchema>;
export type AlertmanagerAlert = z.infer<typeof alertSchema>;

/** True when the Authorization header is exactly `Bearer <token>` (compared in constant time). */
export function bearerMatches(header: string | undefined, token: string | undefined): boolean {
  if (!token || !header) return false;
  const match = /^Bearer +(\S+)$/i.exec(header.trim());
  if (!match) return false;
  // Hashing first makes both sides the same length, so timingSafeEqual never leaks the length.
  const given = createHash('sha256').update(match[1]!).digest();
  const expected = createHash('sha256').update(token).digest();
  return timingSafeEqual(given, expected);
}

export class BodyTooLarge extends Error {}

/** Reads the request body, refusing more than `limit` bytes. */
export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume();
      reject(new BodyTooLarge(`body of ${declared} bytes is over the ${limit}-byte limit`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new BodyTooLarge(`body is over the ${limit}-byte limit`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Parses and validates a webhook body; the error says what is wrong (for a 400 answer). */
export function parsePayload(text: string): { ok: true; payload: AlertmanagerPayload } | { ok: false; error: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, error: 'the body is not JSON' };
  }
  const result = payloadSchema.safeParse(raw);
  if (!result.success) {
    const issues = result.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`);
    return { ok: false, error: `not an Alertmanager webhook payload (version 4): ${issues.join('; ')}` };
  }
  return { ok: true, payload: result.data };
}

/** Alertmanager's fingerprint, or one computed from the labels when an older sender omits it. */
export function alertFingerprint(alert: AlertmanagerAlert): string {
  return alert.fingerprint || fingerprintOf(alert.labels).slice(0, 16);
}
