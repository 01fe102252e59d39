/**
 * The alert's expression over the last hour, from Prometheus' HTTP API (`/api/v1/query_range`),
 * as a chart for the alert's thread. Read only when `prometheus.url` is configured.
 */
import type { Chart, ChartSeries } from '../../src/core/result.ts';
import { UserFacingError } from '../../src/core/types.ts';

const WINDOW_MS = 3_600_000;
const STEP_SECONDS = 60;
/** A chart with more lines than this is unreadable on a phone. */
const MAX_SERIES = 5;

/** The PromQL expression a rule's alert links to: `g0.expr` of its generatorURL. */
export function alertExpression(generatorURL: string | undefined): string | undefined {
  if (!generatorURL) return undefined;
  try {
    return new URL(generatorURL).searchParams.get('g0.expr') ?? undefined;
  } catch {
    return undefined;
  }
}

/** `rate(x[5m]) > 100` → what is compared and the threshold; an expression without one is kept whole. */
export function splitThreshold(expr: string): { query: string; threshold?: number } {
  const match = /^([\s\S]+?)\s*(>=?|<=?)\s*(-?\d+(?:\.\d+)?)\s*$/.exec(expr);
  return match ? { query: match[1]!.trim(), threshold: Number(match[3]) } : { query: expr };
}

interface RangeResponse {
  status: string;
  error?: string;
  data?: { resultType: string; result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }> };
}

export async function queryRange(http: typeof fetch, baseUrl: string, query: string, end: Date): Promise<ChartSeries[]> {
  const url = new URL('api/v1/query_range', baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  const params = { query, start: String((end.getTime() - WINDOW_MS) / 1000), end: String(end.getTime() / 1000), step: String(STEP_SECONDS) };
  const response = await http(url, { method: 'POST', body: new URLSearchParams(params), signal: AbortSignal.timeout(10_000) });
  const body = (await response.json().catch(() => undefined)) as RangeResponse | undefined;
  if (!response.ok || body?.status !== 'success' || body.data?.resultType !== 'matrix') {
    throw new UserFacingError(`Prometheus at ${url.origin} answered ${response.status}${body?.error ? `: ${body.error}` : ''} to a range query`);
  }
  return body.data.result.slice(0, MAX_SERIES).map((r) => ({
    name: Object.entries(r.metric).filter(([k]) => k !== '__name__').map(([k, v]) => `${k}=${v}`).join(', ') || r.metric.__name__ || query,
    points: r.values.map(([at, value]) => ({ at: at * 1000, value: Number(value) })).filter((p) => Number.isFinite(p.value)),
  }));
}

/** The alert's chart, or undefined when its rule has no expression or Prometheus returned no points. */
export async function alertChart(http: typeof fetch, baseUrl: string, alertname: string, generatorURL: string | undefined, now: Date): Promise<Chart | undefined> {
  const expr = alertExpression(generatorURL);
  if (!expr) return undefined;
  const { query, threshold } = splitThreshold(expr);
  const series = (await queryRange(http, baseUrl, query, now)).filter((s) => s.points.length > 0);
  if (series.length === 0) return undefined;
  const last = series.map((s) => `${series.length > 1 ? `${s.name} ` : ''}${round(s.points.at(-1)!.value)}`).join(', ');
  const peak = Math.max(...series.flatMap((s) => s.points.map((p) => p.value)));
  return {
    title: `${alertname}: last hour`,
    yTitle: query.length <= 40 ? query : `${query.slice(0, 39)}…`,
    series,
    ...(threshold !== undefined ? { threshold: { value: threshold, label: `threshold ${threshold}` } } : {}),
    alt: `${query} over the last hour (Prometheus): now ${last}; peak ${round(peak)}${threshold !== undefined ? `; threshold ${threshold}` : ''}.`,
  };
}

const round = (n: number) => (Math.abs(n) >= 100 ? n.toFixed(0) : n.toPrecision(3).replace(/\.?0+$/, ''));
