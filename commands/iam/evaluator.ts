/**
 * IAM identity-policy evaluation for one principal and one request, as AWS documents it:
 * an explicit Deny in any policy wins; otherwise an Allow that matches grants; otherwise the
 * request is implicitly denied. Statements match on Action/NotAction (case-insensitive, * and ?
 * wildcards), Resource/NotResource (case-sensitive, per ARN segment, * and ? wildcards, policy
 * variables such as ${aws:username}) and Condition (every operator AND, every key AND, the values
 * of one key OR; ...IfExists, ForAnyValue:/ForAllValues:, Null).
 *
 * Not modelled: resource-based policies, permissions boundaries, SCPs and policies passed with AssumeRole. They can
 * only remove permissions, so an "allowed" here means "allowed by the role's own policies".
 */
import ipaddr from 'ipaddr.js';
import { asList, parseOperator, statementsOf } from './policy.ts';
import type { ConditionBlock, ParsedOperator, PolicyDocument, PolicyStatement } from './policy.ts';

export type ContextValue = string | number | boolean | readonly string[];
/** Request context keys (case-insensitive), e.g. aws:RequestedRegion, s3:prefix. */
export type RequestContext = Record<string, ContextValue | undefined>;

export interface AccessRequest {
  action: string;
  resource: string;
  context?: RequestContext;
}

export interface NamedPolicy {
  /** Shown in explanations: "inline AutoStackMinimalPolicy", a managed policy ARN, ... */
  name: string;
  document: PolicyDocument;
}

export interface StatementRef {
  policy: string;
  index: number;
  sid?: string;
  effect: 'Allow' | 'Deny';
}

export type Decision = 'allow' | 'explicitDeny' | 'implicitDeny';

export interface Evaluation {
  decision: Decision;
  allowedBy: StatementRef[];
  deniedBy: StatementRef[];
  /** Anything the evaluator could not decide exactly (unsupported operator, ...). */
  notes: string[];
}

// Private-use characters stand for a literal * or ? coming from a policy variable (${*}, values).
const LITERAL_STAR = '\uE000';
const LITERAL_QUESTION = '\uE001';

const regexCache = new Map<string, RegExp>();

function globRegExp(pattern: string, ignoreCase: boolean): RegExp {
  const cacheKey = `${ignoreCase ? 'i' : 's'}:${pattern}`;
  let re = regexCache.get(cacheKey);
  if (!re) {
    let source = '';
    for (const ch of pattern) {
      if (ch === '*') source += '.*';
      else if (ch === '?') source += '.';
      else if (ch === LITERAL_STAR) source += '\\*';
      else if (ch === LITERAL_QUESTION) source += '\\?';
      else source += ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    }
    re = new RegExp(`^${source}$`, ignoreCase ? 'is' : 's');
    if (regexCache.size > 5000) regexCache.clear();
    regexCache.set(cacheKey, re);
  }
  return re;
}

/** `*` matches any run of characters, `?` exactly one. */
export function globMatch(pattern: string, value: string, ignoreCase = false): boolean {
  return globRegExp(pattern, ignoreCase).test(value);
}

/** Case-insensitive match of an IAM action pattern (`s3:Get*`, `*`) against an action. */
export function actionMatches(pattern: string, action: string): boolean {
  if (pattern === '*') return true;
  return globMatch(pattern, action, true);
}

function splitArn(arn: string): string[] | undefined {
  if (!arn.startsWith('arn:')) return undefined;
  const parts = arn.split(':');
  if (parts.length < 6) return undefined;
  return [...parts.slice(0, 5), parts.slice(5).join(':')];
}

/**
 * Case-sensitive ARN match: each of the six colon-separated parts is matched on its own, so a
 * wildcard in the account part never swallows the resource. `*` alone matches everything.
 */
export function arnMatches(pattern: string, arn: string): boolean {
  if (pattern === '*') return true;
  const p = splitArn(pattern);
  const a = splitArn(arn);
  if (!p || !a) return globMatch(pattern, arn);
  return p.every((segment, i) => globMatch(segment, a[i]!));
}

function contextLookup(context: RequestContext | undefined): (key: string) => ContextValue | undefined {
  const map = new Map<string, ContextValue>();
  for (const [key, value] of Object.entries(context ?? {})) {
    if (value !== undefined) map.set(key.toLowerCase(), value);
  }
  return (key) => map.get(key.toLowerCase());
}

function contextValues(value: ContextValue | undefined): string[] {
  if (value === undefined) return [];
  if (Array.isArray(value)) return value.map(String);
  return [String(value as string | number | boolean)];
}

/**
 * Replaces ${key} and ${key, 'default'} with the request's values (only in 2012-10-17 policies).
 * Returns undefined when a variable has no value and no default: the element then matches nothing.
 */
function substituteVariables(text: string, lookup: (key: string) => ContextValue | undefined, enabled: boolean): string | undefined {
  if (!enabled || !text.includes('${')) return text;
  let missing = false;
  const out = text.replace(/\$\{([^}]*)\}/g, (_match, inner: string) => {
    const body = inner.trim();
    if (body === '*') return LITERAL_STAR;
    if (body === '?') return LITERAL_QUESTION;
    if (body === '$') return '$';
    const defaultMatch = /^([^,]+),\s*'([^']*)'$/.exec(body);
    const key = defaultMatch ? defaultMatch[1]!.trim() : body;
    const values = contextValues(lookup(key));
    if (values.length !== 1) {
      if (defaultMatch) return defaultMatch[2]!.replace(/\*/g, LITERAL_STAR).replace(/\?/g, LITERAL_QUESTION);
      missing = true;
      return '';
    }
    return values[0]!.replace(/\*/g, LITERAL_STAR).replace(/\?/g, LITERAL_QUESTION);
  });
  return missing ? undefined : out;
}

const NEGATED: Record<string, string> = {
  StringNotEquals: 'StringEquals',
  StringNotEqualsIgnoreCase: 'StringEqualsIgnoreCase',
  StringNotLike: 'StringLike',
  NumericNotEquals: 'NumericEquals',
  DateNotEquals: 'DateEquals',
  NotIpAddress: 'IpAddress',
  ArnNotEquals: 'ArnEquals',
  ArnNotLike: 'ArnLike',
};

function parseDate(value: string): number {
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  return Date.parse(value);
}

function parseCidr(value: string): [ipaddr.IPv4 | ipaddr.IPv6, number] | undefined {
  try {
    if (value.includes('/')) return ipaddr.parseCIDR(value);
    const address = ipaddr.parse(value);
    return [address, address.kind() === 'ipv4' ? 32 : 128];
  } catch {
    return undefined;
  }
}

function ipInRange(ip: string, cidr: string): boolean {
  const range = parseCidr(cidr);
  if (!range) return false;
  try {
    let address = ipaddr.parse(ip);
    let [network] = range;
    const bits = range[1];
    if (address.kind() !== network.kind()) {
      if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress()) address = (address as ipaddr.IPv6).toIPv4Address();
      else if (network.kind() === 'ipv6' && (network as ipaddr.IPv6).isIPv4MappedAddress()) network = (network as ipaddr.IPv6).toIPv4Address();
      if (address.kind() !== network.kind()) return false;
    }
    return address.match([network, bits] as [ipaddr.IPv4, number]);
  } catch {
    return false;
  }
}

/** One positive (non-negated) comparison of a request value with a policy value. */
function positiveMatch(base: string, requestValue: string, policyValue: string): boolean {
  switch (base) {
    case 'StringEquals':
      return requestValue === policyValue;
    case 'StringEqualsIgnoreCase':
      return requestValue.toLowerCase() === policyValue.toLowerCase();
    case 'StringLike':
      return globMatch(policyValue, requestValue);
    case 'NumericEquals':
    case 'NumericLessThan':
    case 'NumericLessThanEquals':
    case 'NumericGreaterThan':
    case 'NumericGreaterThanEquals': {
      const r = Number(requestValue);
      const p = Number(policyValue);
      if (Number.isNaN(r) || Number.isNaN(p) || requestValue.trim() === '' || policyValue.trim() === '') return false;
      return compare(base.slice('Numeric'.length), r, p);
    }
    case 'DateEquals':
    case 'DateLessThan':
    case 'DateLessThanEquals':
    case 'DateGreaterThan':
    case 'DateGreaterThanEquals': {
      const r = parseDate(requestValue);
      const p = parseDate(policyValue);
      if (Number.isNaN(r) || Number.isNaN(p)) return false;
      return compare(base.slice('Date'.length), r, p);
    }
    case 'Bool':
      return requestValue.toLowerCase() === policyValue.toLowerCase();
    case 'BinaryEquals':
      return requestValue === policyValue;
    case 'IpAddress':
      return ipInRange(requestValue, policyValue);
    case 'ArnEquals':
    case 'ArnLike':
      return arnMatches(policyValue, requestValue);
    default:
      return false;
  }
}

function compare(kind: string, r: number, p: number): boolean {
  switch (kind) {
    case 'Equals':
      return r === p;
    case 'LessThan':
      return r < p;
    case 'LessThanEquals':
      return r <= p;
    case 'GreaterThan':
      return r > p;
    case 'GreaterThanEquals':
      return r >= p;
    default:
      return false;
  }
}

/** Does one request value satisfy the operator against the policy's values (OR, or NOR when negated)? */
function valueSatisfies(operator: ParsedOperator, requestValue: string, policyValues: Array<string | undefined>): boolean {
  const positive = NEGATED[operator.base];
  const base = positive ?? operator.base;
  const matched = policyValues.some((p) => p !== undefined && positiveMatch(base, requestValue, p));
  return positive ? !matched : matched;
}

function keySatisfied(operator: ParsedOperator, policyValues: Array<string | undefined>, requestValue: ContextValue | undefined): boolean {
  const values = contextValues(requestValue);
  if (operator.base === 'Null') {
    // {"Null": {"key": "true"}}: the key is absent; "false": the key is present.
    return policyValues.some((p) => (p?.toLowerCase() === 'true' ? values.length === 0 : values.length > 0));
  }
  const negated = operator.base in NEGATED;
  if (values.length === 0) {
    if (operator.ifExists) return true;
    if (operator.set === 'ForAllValues') return true;
    if (operator.set === 'ForAnyValue') return false;
    return negated;
  }
  if (operator.set === 'ForAllValues') return values.every((v) => valueSatisfies(operator, v, policyValues));
  if (operator.set === 'ForAnyValue') return values.some((v) => valueSatisfies(operator, v, policyValues));
  // A single-valued operator given several request values: a positive operator needs one of
  // them to match, a negated one needs all of them not to match.
  return negated ? values.every((v) => valueSatisfies(operator, v, policyValues)) : values.some((v) => valueSatisfies(operator, v, policyValues));
}

export type ConditionResult = { kind: 'true' } | { kind: 'false' } | { kind: 'unsupported'; operator: string };

export function evaluateCondition(condition: ConditionBlock | undefined, context: RequestContext | undefined, variables = true): ConditionResult {
  if (!condition) return { kind: 'true' };
  const lookup = contextLookup(context);
  for (const [operatorName, block] of Object.entries(condition)) {
    const operator = parseOperator(operatorName);
    if (!operator) return { kind: 'unsupported', operator: operatorName };
    for (const [key, raw] of Object.entries(block)) {
      const policyValues = (Array.isArray(raw) ? raw : [raw]).map((v) =>
        substituteVariables(String(v as string | number | boolean), lookup, variables && operator.base.startsWith('String')),
      );
      if (!keySatisfied(operator, policyValues, lookup(key))) return { kind: 'false' };
    }
  }
  return { kind: 'true' };
}

function resourceMatches(pattern: string, resource: string, lookup: (key: string) => ContextValue | undefined, variables: boolean): boolean {
  const substituted = substituteVariables(pattern, lookup, variables);
  if (substituted === undefined) return false;
  return arnMatches(substituted, resource);
}

type StatementMatch = 'applies' | 'not' | { unsupported: string };

/** Whether one statement applies to the request (its Effect decides what that means). */
export function statementApplies(statement: PolicyStatement, request: AccessRequest, version?: string): StatementMatch {
  const variables = version === '2012-10-17';
  const lookup = contextLookup(request.context);
  const actionHit =
    statement.Action !== undefined
      ? asList(statement.Action).some((p) => actionMatches(p, request.action))
      : statement.NotAction !== undefined
        ? !asList(statement.NotAction).some((p) => actionMatches(p, request.action))
        : false;
  if (!actionHit) return 'not';
  const resourceHit =
    statement.Resource !== undefined
      ? asList(statement.Resource).some((p) => resourceMatches(p, request.resource, lookup, variables))
      : statement.NotResource !== undefined
        ? !asList(statement.NotResource).some((p) => resourceMatches(p, request.resource, lookup, variables))
        : false;
  if (!resourceHit) return 'not';
  const condition = evaluateCondition(statement.Condition, request.context, variables);
  if (condition.kind === 'unsupported') return { unsupported: condition.operator };
  return condition.kind === 'true' ? 'applies' : 'not';
}

/** Evaluates a request against all identity policies of one principal. */
export function evaluate(policies: readonly NamedPolicy[], request: AccessRequest): Evaluation {
  const allowedBy: StatementRef[] = [];
  const deniedBy: StatementRef[] = [];
  const notes: string[] = [];
  for (const policy of policies) {
    statementsOf(policy.document).forEach((statement, index) => {
      const match = statementApplies(statement, request, policy.document.Version);
      const ref: StatementRef = { policy: policy.name, index, effect: statement.Effect, ...(statement.Sid ? { sid: statement.Sid } : {}) };
      if (typeof match === 'object') {
        // Fail safe: an Allow we cannot decide does not allow; a Deny we cannot decide denies.
        notes.push(`${policy.name} statement ${statement.Sid ?? index}: condition operator ${match.unsupported} is not supported`);
        if (statement.Effect === 'Deny') deniedBy.push(ref);
        return;
      }
      if (match === 'applies') (statement.Effect === 'Deny' ? deniedBy : allowedBy).push(ref);
    });
  }
  const decision: Decision = deniedBy.length > 0 ? 'explicitDeny' : allowedBy.length > 0 ? 'allow' : 'implicitDeny';
  return { decision, allowedBy, deniedBy, notes };
}

export function isAllowed(policies: readonly NamedPolicy[], request: AccessRequest): boolean {
  return evaluate(policies, request).decision === 'allow';
}

export function describeRef(ref: StatementRef): string {
  return `${ref.policy} (${ref.sid ? `Sid ${ref.sid}` : `statement ${ref.index + 1}`})`;
}
