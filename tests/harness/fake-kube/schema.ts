/**
 * Defaulting and validation for the served kinds: the subset of the real
 * API server's behaviour that changes what clients observe (defaulted fields
 * such as spec.replicas and strategy, 422 Invalid answers, immutable fields,
 * Secret base64 and stringData handling).
 */
import type { ResourceInfo } from './resources.ts';
import type { FieldError } from './status.ts';
import { badRequest, goStringMap, invalid } from './status.ts';
import { selectorMatches } from './selectors.ts';
import type { ContainerSpec, KubeObject, LabelSelector, PodSpec, PodTemplateSpec } from './types.ts';
import { deepEqual, isPlainObject } from './util.ts';

// ---------------------------------------------------------------------------
// Defaulting

function defaultImagePullPolicy(image: string | undefined): string {
  if (!image) return 'IfNotPresent';
  const afterSlash = image.slice(image.lastIndexOf('/') + 1);
  if (image.includes('@')) return 'IfNotPresent';
  const colon = afterSlash.lastIndexOf(':');
  const tag = colon >= 0 ? afterSlash.slice(colon + 1) : '';
  return tag === '' || tag === 'latest' ? 'Always' : 'IfNotPresent';
}

function defaultContainer(c: ContainerSpec): void {
  c.imagePullPolicy ??= defaultImagePullPolicy(c.image);
  c.terminationMessagePath ??= '/dev/termination-log';
  c.terminationMessagePolicy ??= 'File';
  c.resources ??= {};
  if (Array.isArray(c.ports)) {
    for (const p of c.ports) if (isPlainObject(p)) p.protocol ??= 'TCP';
  }
}

export function defaultPodSpec(spec: PodSpec | undefined): void {
  if (!spec) return;
  spec.restartPolicy ??= 'Always';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.securityContext ??= {};
  spec.schedulerName ??= 'default-scheduler';
  for (const c of spec.containers ?? []) if (isPlainObject(c)) defaultContainer(c);
  for (const c of spec.initContainers ?? []) if (isPlainObject(c)) defaultContainer(c);
}

function defaultTemplate(template: PodTemplateSpec | undefined): void {
  if (!template || !isPlainObject(template)) return;
  defaultPodSpec(template.spec);
}

function specOf(obj: KubeObject): Record<string, unknown> {
  if (!isPlainObject(obj.spec)) obj.spec = {};
  return obj.spec as Record<string, unknown>;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Decoding step of a write: for Secrets, `data` must be valid base64 (a 400
 * otherwise) and `stringData` is folded into `data`, never stored.
 */
export function decodeBody(info: ResourceInfo, obj: KubeObject): void {
  if (info.plural !== 'secrets') return;
  const data = obj.data;
  if (data !== undefined && data !== null) {
    if (!isPlainObject(data)) throw badRequest('Secret in version "v1" cannot be handled as a Secret: data must be an object');
    for (const value of Object.values(data)) {
      if (typeof value !== 'string' || !BASE64.test(value)) {
        throw badRequest('Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 0');
      }
    }
  }
  const stringData = obj.stringData;
  if (stringData !== undefined && stringData !== null) {
    if (!isPlainObject(stringData)) throw badRequest('Secret in version "v1" cannot be handled as a Secret: stringData must be an object');
    const merged: Record<string, unknown> = isPlainObject(data) ? { ...data } : {};
    for (const [key, value] of Object.entries(stringData)) merged[key] = Buffer.from(String(value), 'utf8').toString('base64');
    obj.data = merged;
  }
  delete obj.stringData;
}

/** Applies the API server's defaults for a kind, in place. */
export function applyDefaults(info: ResourceInfo, obj: KubeObject): void {
  switch (info.plural) {
    case 'namespaces': {
      obj.metadata.labels = { ...(obj.metadata.labels ?? {}), 'kubernetes.io/metadata.name': obj.metadata.name ?? '' };
      const spec = specOf(obj);
      spec.finalizers ??= ['kubernetes'];
      break;
    }
    case 'pods':
      defaultPodSpec(specOf(obj) as PodSpec);
      break;
    case 'secrets':
      obj.type ??= 'Opaque';
      break;
    case 'deployments': {
      const spec = specOf(obj);
      spec.replicas ??= 1;
      spec.revisionHistoryLimit ??= 10;
      spec.progressDeadlineSeconds ??= 600;
      const strategy = (isPlainObject(spec.strategy) ? spec.strategy : (spec.strategy = {})) as Record<string, unknown>;
      strategy.type ??= 'RollingUpdate';
      if (strategy.type === 'RollingUpdate') {
        const ru = (isPlainObject(strategy.rollingUpdate) ? strategy.rollingUpdate : (strategy.rollingUpdate = {})) as Record<string, unknown>;
        ru.maxSurge ??= '25%';
        ru.maxUnavailable ??= '25%';
      }
      defaultTemplate(spec.template as PodTemplateSpec);
      break;
    }
    case 'replicasets': {
      const spec = specOf(obj);
      spec.replicas ??= 1;
      defaultTemplate(spec.template as PodTemplateSpec);
      break;
    }
    case 'statefulsets': {
      const spec = specOf(obj);
      spec.replicas ??= 1;
      spec.podManagementPolicy ??= 'OrderedReady';
      spec.revisionHistoryLimit ??= 10;
      const us = (isPlainObject(spec.updateStrategy) ? spec.updateStrategy : (spec.updateStrategy = {})) as Record<string, unknown>;
      us.type ??= 'RollingUpdate';
      if (us.type === 'RollingUpdate') {
        const ru = (isPlainObject(us.rollingUpdate) ? us.rollingUpdate : (us.rollingUpdate = {})) as Record<string, unknown>;
        ru.partition ??= 0;
      }
      defaultTemplate(spec.template as PodTemplateSpec);
      break;
    }
    case 'jobs': {
      const spec = specOf(obj);
      spec.parallelism ??= 1;
      spec.completions ??= 1;
      spec.backoffLimit ??= 6;
      spec.completionMode ??= 'NonIndexed';
      spec.suspend ??= false;
      defaultTemplate(spec.template as PodTemplateSpec);
      break;
    }
    default:
      break;
  }
}

/**
 * Create-time preparation that needs the new object's uid: Jobs get their
 * generated selector and the controller-uid / job-name labels.
 */
export function prepareForCreate(info: ResourceInfo, obj: KubeObject): void {
  if (info.plural !== 'jobs') return;
  const spec = specOf(obj);
  const uid = obj.metadata.uid ?? '';
  const name = obj.metadata.name ?? '';
  if (spec.manualSelector !== true) {
    spec.selector = { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } };
    const template = (isPlainObject(spec.template) ? spec.template : (spec.template = {})) as Record<string, unknown>;
    const meta = (isPlainObject(template.metadata) ? template.metadata : (template.metadata = {})) as Record<string, unknown>;
    meta.labels = {
      ...((meta.labels as Record<string, string> | undefined) ?? {}),
      'batch.kubernetes.io/controller-uid': uid,
      'batch.kubernetes.io/job-name': name,
      'controller-uid': uid,
      'job-name': name,
    };
    if (!obj.metadata.labels || Object.keys(obj.metadata.labels).length === 0) {
      obj.metadata.labels = { 'batch.kubernetes.io/controller-uid': uid, 'batch.kubernetes.io/job-name': name, 'controller-uid': uid, 'job-name': name };
    }
  }
}

// ---------------------------------------------------------------------------
// Validation

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;

const SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

export function validateName(info: ResourceInfo, name: string): FieldError[] {
  if (info.plural === 'namespaces') {
    if (!DNS1123_LABEL.test(name) || name.length > 63) return [{ field: 'metadata.name', type: 'Invalid', value: JSON.stringify(name), detail: LABEL_MSG }];
    return [];
  }
  if (!DNS1123_SUBDOMAIN.test(name) || name.length > 253) return [{ field: 'metadata.name', type: 'Invalid', value: JSON.stringify(name), detail: SUBDOMAIN_MSG }];
  return [];
}

function validateContainers(list: unknown, field: string, required: boolean): FieldError[] {
  const errors: FieldError[] = [];
  if (list === undefined || list === null || (Array.isArray(list) && list.length === 0)) {
    if (required) errors.push({ field, type: 'Required' });
    return errors;
  }
  if (!Array.isArray(list)) return [{ field, type: 'Invalid', value: JSON.stringify(list), detail: 'must be a list' }];
  const seen = new Set<string>();
  list.forEach((c: unknown, i) => {
    const f = `${field}[${i}]`;
    if (!isPlainObject(c)) {
      errors.push({ field: f, type: 'Invalid', value: JSON.stringify(c), detail: 'must be an object' });
      return;
    }
    const name = c.name;
    if (typeof name !== 'string' || name === '') errors.push({ field: `${f}.name`, type: 'Required' });
    else if (!DNS1123_LABEL.test(name)) errors.push({ field: `${f}.name`, type: 'Invalid', value: JSON.stringify(name), detail: LABEL_MSG });
    else if (seen.has(name)) errors.push({ field: `${f}.name`, type: 'Duplicate', value: JSON.stringify(name) });
    if (typeof name === 'string') seen.add(name);
    if (typeof c.image !== 'string' || c.image.trim() === '') errors.push({ field: `${f}.image`, type: 'Required' });
  });
  return errors;
}

function validatePodSpec(spec: unknown, field: string, allowedRestart: readonly string[]): FieldError[] {
  if (!isPlainObject(spec)) return [{ field: `${field}.containers`, type: 'Required' }];
  const errors = [
    ...validateContainers(spec.containers, `${field}.containers`, true),
    ...validateContainers(spec.initContainers, `${field}.initContainers`, false),
  ];
  const rp = spec.restartPolicy;
  if (typeof rp === 'string' && !allowedRestart.includes(rp)) {
    errors.push({
      field: `${field}.restartPolicy`,
      type: 'NotSupported',
      value: JSON.stringify(rp),
      detail: `supported values: ${allowedRestart.map((v) => JSON.stringify(v)).join(', ')}`,
    });
  }
  return errors;
}

function validateSelectorAndTemplate(spec: Record<string, unknown>, allowedRestart: readonly string[]): FieldError[] {
  const errors: FieldError[] = [];
  const selector = spec.selector;
  const template = spec.template;
  const selectorEmpty =
    !isPlainObject(selector) ||
    (Object.keys((selector.matchLabels as object | undefined) ?? {}).length === 0 &&
      ((selector.matchExpressions as unknown[] | undefined) ?? []).length === 0);
  if (selectorEmpty) errors.push({ field: 'spec.selector', type: 'Required' });
  if (!isPlainObject(template)) {
    errors.push({ field: 'spec.template', type: 'Required' });
    return errors;
  }
  const labels = (isPlainObject(template.metadata) ? template.metadata.labels : undefined) as Record<string, string> | undefined;
  if (!selectorEmpty && !selectorMatches(selector as LabelSelector, labels)) {
    errors.push({
      field: 'spec.template.metadata.labels',
      type: 'Invalid',
      value: goStringMap(labels),
      detail: '`selector` does not match template `labels`',
    });
  }
  errors.push(...validatePodSpec(template.spec, 'spec.template.spec', allowedRestart));
  const replicas = spec.replicas;
  if (typeof replicas === 'number' && replicas < 0) {
    errors.push({ field: 'spec.replicas', type: 'Invalid', value: String(replicas), detail: 'must be greater than or equal to 0' });
  }
  return errors;
}

function immutable(field: string, value: unknown): FieldError {
  return { field, type: 'Invalid', value: JSON.stringify(value), detail: 'field is immutable' };
}

/** Validates an object about to be stored; `old` is set for updates. Throws 422 Invalid. */
export function validate(info: ResourceInfo, obj: KubeObject, old: KubeObject | undefined): void {
  const name = obj.metadata.name ?? '';
  const errors: FieldError[] = [];
  if (!old) errors.push(...validateName(info, name));
  const spec = isPlainObject(obj.spec) ? obj.spec : {};
  const oldSpec = old && isPlainObject(old.spec) ? old.spec : undefined;

  switch (info.plural) {
    case 'pods':
      errors.push(...validatePodSpec(obj.spec, 'spec', ['Always', 'OnFailure', 'Never']));
      if (oldSpec) {
        // Pod specs are immutable apart from container images.
        const strip = (s: Record<string, unknown>) =>
          JSON.stringify({
            ...s,
            containers: ((s.containers as ContainerSpec[] | undefined) ?? []).map((c) => ({ ...c, image: undefined })),
          });
        if (strip(spec) !== strip(oldSpec)) {
          errors.push({ field: 'spec', type: 'Forbidden', detail: 'pod updates may not change fields other than `spec.containers[*].image`' });
        }
      }
      break;
    case 'deployments':
    case 'replicasets':
      errors.push(...validateSelectorAndTemplate(spec, ['Always']));
      if (oldSpec && !deepEqual(oldSpec.selector, spec.selector)) errors.push(immutable('spec.selector', spec.selector));
      break;
    case 'statefulsets':
      errors.push(...validateSelectorAndTemplate(spec, ['Always']));
      if (oldSpec && !deepEqual(oldSpec.selector, spec.selector)) errors.push(immutable('spec.selector', spec.selector));
      break;
    case 'jobs': {
      const template = spec.template;
      if (!isPlainObject(template)) errors.push({ field: 'spec.template', type: 'Required' });
      else errors.push(...validatePodSpec(template.spec, 'spec.template.spec', ['OnFailure', 'Never']));
      const backoff = spec.backoffLimit;
      if (typeof backoff === 'number' && backoff < 0) {
        errors.push({ field: 'spec.backoffLimit', type: 'Invalid', value: String(backoff), detail: 'must be greater than or equal to 0' });
      }
      if (oldSpec) {
        if (!deepEqual(oldSpec.template, spec.template)) errors.push(immutable('spec.template', spec.template));
        if (!deepEqual(oldSpec.selector, spec.selector)) errors.push(immutable('spec.selector', spec.selector));
        if (!deepEqual(oldSpec.completions, spec.completions)) errors.push(immutable('spec.completions', spec.completions));
      }
      break;
    }
    case 'secrets': {
      for (const key of Object.keys(isPlainObject(obj.data) ? obj.data : {})) {
        if (!CONFIG_KEY.test(key)) {
          errors.push({
            field: `data[${key}]`,
            type: 'Invalid',
            value: JSON.stringify(key),
            detail: "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
          });
        }
      }
      if (old) {
        if (old.type !== obj.type) errors.push(immutable('type', obj.type));
        if (old.immutable === true) {
          if (!deepEqual(old.data, obj.data)) errors.push({ field: 'data', type: 'Forbidden', detail: 'field is immutable when `immutable` is set' });
          if (obj.immutable !== true) errors.push({ field: 'immutable', type: 'Forbidden', detail: 'field is immutable when `immutable` is set' });
        }
      }
      break;
    }
    default:
      break;
  }
  if (errors.length > 0) throw invalid(info, name, errors);
}
