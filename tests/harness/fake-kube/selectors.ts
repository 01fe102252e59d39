/**
 * Label selectors (string form from ?labelSelector= and the structured
 * LabelSelector of workload specs) and field selectors.
 */
import { badRequest } from './status.ts';
import type { KubeObject, LabelSelector } from './types.ts';

export interface Requirement {
  key: string;
  op: 'in' | 'notin' | 'exists' | '!exists' | '=' | '!=';
  values: string[];
}

function splitTopLevel(input: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of input) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

const KEY = String.raw`[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?`;
const VALUE = String.raw`([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?`;

/** Parses a label selector string such as `app=web,tier in (a,b),!legacy`. */
export function parseLabelSelector(selector: string): Requirement[] {
  const requirements: Requirement[] = [];
  for (const part of splitTopLevel(selector)) {
    let m: RegExpExecArray | null;
    if ((m = new RegExp(`^(${KEY})\\s+(in|notin)\\s*\\(([^)]*)\\)$`).exec(part))) {
      const values = (m[4] ?? '').split(',').map((v) => v.trim()).filter((v) => v.length > 0);
      requirements.push({ key: m[1] ?? '', op: m[3] === 'in' ? 'in' : 'notin', values });
    } else if ((m = new RegExp(`^(${KEY})\\s*(==|=|!=)\\s*(${VALUE})$`).exec(part))) {
      requirements.push({ key: m[1] ?? '', op: m[3] === '!=' ? '!=' : '=', values: [m[4] ?? ''] });
    } else if ((m = new RegExp(`^!\\s*(${KEY})$`).exec(part))) {
      requirements.push({ key: m[1] ?? '', op: '!exists', values: [] });
    } else if ((m = new RegExp(`^(${KEY})$`).exec(part))) {
      requirements.push({ key: m[1] ?? '', op: 'exists', values: [] });
    } else {
      throw badRequest(`unable to parse requirement: found '${part}', expected: key, !key, key=value, key!=value, key in (...), key notin (...)`);
    }
  }
  return requirements;
}

export function requirementsFromSelector(selector: LabelSelector): Requirement[] {
  const reqs: Requirement[] = [];
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) reqs.push({ key, op: '=', values: [value] });
  for (const expr of selector.matchExpressions ?? []) {
    const op = expr.operator === 'In' ? 'in' : expr.operator === 'NotIn' ? 'notin' : expr.operator === 'Exists' ? 'exists' : '!exists';
    reqs.push({ key: expr.key, op, values: expr.values ?? [] });
  }
  return reqs;
}

export function matchesRequirements(labels: Record<string, string> | undefined, reqs: readonly Requirement[]): boolean {
  const l = labels ?? {};
  return reqs.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    const value = l[r.key];
    switch (r.op) {
      case 'exists': return has;
      case '!exists': return !has;
      case '=': return has && value === r.values[0];
      case '!=': return !has || value !== r.values[0];
      case 'in': return has && r.values.includes(value ?? '');
      case 'notin': return !has || !r.values.includes(value ?? '');
    }
  });
}

/** True when a structured selector selects the labels. An empty selector selects everything. */
export function selectorMatches(selector: LabelSelector | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector) return false;
  return matchesRequirements(labels, requirementsFromSelector(selector));
}

/** Renders a structured selector in string form (as status.selector of a Scale does). */
export function selectorToString(selector: LabelSelector): string {
  return requirementsFromSelector(selector)
    .map((r) => {
      switch (r.op) {
        case '=': return `${r.key}=${r.values[0] ?? ''}`;
        case '!=': return `${r.key}!=${r.values[0] ?? ''}`;
        case 'exists': return r.key;
        case '!exists': return `!${r.key}`;
        case 'in': return `${r.key} in (${r.values.join(',')})`;
        case 'notin': return `${r.key} notin (${r.values.join(',')})`;
      }
    })
    .join(',');
}

type FieldGetter = (obj: KubeObject) => string | undefined;

const COMMON_FIELDS: Record<string, FieldGetter> = {
  'metadata.name': (o) => o.metadata.name,
  'metadata.namespace': (o) => o.metadata.namespace,
};

function get(obj: unknown, path: string[]): string | undefined {
  let cur: unknown = obj;
  for (const p of path) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur === undefined || cur === null ? undefined : String(cur);
}

const EXTRA_FIELDS: Record<string, Record<string, FieldGetter>> = {
  pods: {
    'status.phase': (o) => get(o, ['status', 'phase']),
    'spec.nodeName': (o) => get(o, ['spec', 'nodeName']) ?? '',
    'spec.restartPolicy': (o) => get(o, ['spec', 'restartPolicy']),
    'status.podIP': (o) => get(o, ['status', 'podIP']) ?? '',
  },
  secrets: { type: (o) => get(o, ['type']) },
  jobs: { 'status.successful': (o) => get(o, ['status', 'succeeded']) ?? '0' },
  replicasets: { 'status.replicas': (o) => get(o, ['status', 'replicas']) ?? '0' },
};

export type FieldMatcher = (obj: KubeObject) => boolean;

/** Parses ?fieldSelector= for a resource; unsupported fields are a 400 as on a real server. */
export function parseFieldSelector(plural: string, selector: string): FieldMatcher {
  const fields = { ...COMMON_FIELDS, ...(EXTRA_FIELDS[plural] ?? {}) };
  const checks: FieldMatcher[] = [];
  for (const part of selector.split(',').map((p) => p.trim()).filter((p) => p.length > 0)) {
    const m = /^([^=!]+?)\s*(==|=|!=)\s*(.*)$/.exec(part);
    if (!m) throw badRequest(`invalid selector: '${selector}'; can't understand '${part}'`);
    const field = m[1] ?? '';
    const getter = fields[field];
    if (!getter) throw badRequest(`field label not supported: ${field}`);
    const negate = m[2] === '!=';
    const wanted = m[3] ?? '';
    checks.push((o) => (getter(o) === wanted) !== negate);
  }
  return (o) => checks.every((c) => c(o));
}
