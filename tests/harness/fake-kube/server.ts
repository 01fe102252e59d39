/**
 * HTTP layer of the fake API server: routing of /api and /apis paths to the
 * cluster store, discovery documents, pod logs (including follow streams),
 * the status and scale subresources, bearer-token auth, request recording
 * and failure injection.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Cluster, DeleteOptions, PropagationPolicy } from './cluster.ts';
import type { JobRunner } from './jobs.ts';
import type { LogLine, LogStore } from './logs.ts';
import { formatLogLine } from './logs.ts';
import { MERGE_PATCH } from './patch.ts';
import type { ResourceInfo } from './resources.ts';
import { RESOURCES, RESOURCE_VERBS, apiVersionOf, findResource, resourceInfo } from './resources.ts';
import { parseFieldSelector, parseLabelSelector, matchesRequirements, selectorToString } from './selectors.ts';
import type { StatusDetails } from './status.ts';
import {
  KubeApiError,
  badRequest,
  failureStatus,
  internalError,
  methodNotAllowed,
  notFound,
  pathNotFound,
  reasonForCode,
  successStatus,
  unauthorized,
} from './status.ts';
import type { KubeObject, LabelSelector, Pod } from './types.ts';
import { isPlainObject, rfc3339 } from './util.ts';
import { readRequest, requestMatches, sendJson } from '../fake-http.ts';
import type { Workloads } from './workloads.ts';

export interface RecordedRequest {
  method: string;
  /** URL path without the query string, e.g. /apis/apps/v1/namespaces/default/deployments/web. */
  path: string;
  /** Query parameters (last value wins for repeated keys). */
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** Content-Type without parameters, if any. */
  contentType: string | undefined;
  /** Parsed JSON body, or the raw text when it is not JSON, or undefined when empty. */
  body: unknown;
  rawBody: string;
}

export interface FailureInjection {
  /** HTTP method to match (any if omitted). */
  method?: string;
  /** Matched against the URL path (a string must match exactly). */
  path: RegExp | string;
  /** How many matching requests fail (default 1). */
  times?: number;
  /** HTTP status code of the injected failure. */
  code: number;
  /** Status reason (default derived from the code, e.g. 500 → InternalError). */
  reason?: string;
  message?: string;
  details?: StatusDetails;
  /** Never answer: the request stays open until the server closes. */
  hang?: boolean;
}

export interface InjectionHandle {
  /** Requests that were answered by this injection so far. */
  readonly hits: number;
  /** Matching requests that will still fail. */
  readonly remaining: number;
}

interface ActiveInjection extends FailureInjection {
  left: number;
  hits: number;
}

export interface ServerDeps {
  cluster: Cluster;
  workloads: Workloads;
  jobs: JobRunner;
  logs: LogStore;
  token: string;
  now: () => Date;
}

function sendStatus(res: ServerResponse, err: KubeApiError): void {
  sendJson(res, err.status.code, err.status);
}

function mediaType(headers: IncomingHttpHeaders): string | undefined {
  const raw = headers['content-type'];
  return raw ? raw.split(';')[0]?.trim().toLowerCase() : undefined;
}

function boolParam(query: URLSearchParams, name: string): boolean {
  const v = query.get(name);
  return v === 'true' || v === '1';
}

function intParam(query: URLSearchParams, name: string): number | undefined {
  const v = query.get(name);
  if (v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw badRequest(`invalid value for ${name}: ${JSON.stringify(v)}`);
  return n;
}

interface Route {
  info: ResourceInfo;
  namespace: string | undefined;
  name: string | undefined;
  subresource: string | undefined;
}

/** Splits /api/v1/... and /apis/<group>/<version>/... paths into a route, or a discovery path. */
function parsePath(path: string): { route?: Route; group?: string; version?: string } | undefined {
  const parts = path.split('/').filter((p) => p.length > 0).map(decodeURIComponent);
  let group: string;
  let version: string;
  let rest: string[];
  if (parts[0] === 'api' && parts[1]) {
    group = '';
    version = parts[1];
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts[1] && parts[2]) {
    group = parts[1];
    version = parts[2];
    rest = parts.slice(3);
  } else {
    return undefined;
  }
  if (rest.length === 0) return { group, version };

  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  } else if (rest[0] === 'namespaces' && rest.length === 2) {
    // /api/v1/namespaces/<name>
    const info = findResource(group, version, 'namespaces');
    return info ? { route: { info, namespace: undefined, name: rest[1], subresource: undefined }, group, version } : { group, version };
  }
  const [plural, name, subresource, ...extra] = rest;
  const info = plural ? findResource(group, version, plural) : undefined;
  if (!info || extra.length > 0) {
    // /api/v1/namespaces/<name>/status
    if (namespace !== undefined && group === '' && plural && ['status', 'finalize'].includes(plural) && !name) {
      return { route: { info: resourceInfo('namespaces'), namespace: undefined, name: namespace, subresource: plural }, group, version };
    }
    return { group, version };
  }
  return { route: { info, namespace, name, subresource }, group, version };
}

export class KubeRequestHandler {
  readonly requests: RecordedRequest[] = [];
  private readonly injections: ActiveInjection[] = [];
  /** Requests held open by a `hang` injection. */
  private readonly hungResponses = new Set<ServerResponse>();
  /** Open `follow=true` log streams. */
  private readonly followResponses = new Set<ServerResponse>();

  constructor(private readonly deps: ServerDeps) {}

  inject(injection: FailureInjection): InjectionHandle {
    const active: ActiveInjection = { ...injection, left: injection.times ?? 1, hits: 0 };
    this.injections.push(active);
    return {
      get hits() {
        return active.hits;
      },
      get remaining() {
        return active.left;
      },
    };
  }

  clearInjections(): void {
    this.injections.length = 0;
  }

  /** Ends follow streams cleanly (like a stopped container) and drops hung requests. */
  closeOpenResponses(): void {
    this.deps.logs.closeAll();
    for (const res of this.followResponses) res.end();
    this.followResponses.clear();
    for (const res of this.hungResponses) res.destroy();
    this.hungResponses.clear();
  }

  handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.handleAsync(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendStatus(res, internalError(err instanceof Error ? err.message : String(err)));
      else res.destroy();
    });
  };

  private async handleAsync(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { url, method, query, body, bodyError, rawBody } = await readRequest(req);
    const contentType = mediaType(req.headers);
    this.requests.push({ method, path: url.pathname, query, headers: req.headers, contentType, body, rawBody });

    const injection = this.injections.find((i) => i.left > 0 && requestMatches(i, method, url.pathname));
    if (injection) {
      injection.left--;
      injection.hits++;
      if (injection.hang) {
        this.hungResponses.add(res);
        res.on('close', () => this.hungResponses.delete(res));
        return;
      }
      const code = injection.code;
      const reason = injection.reason ?? reasonForCode(code);
      sendJson(res, code, failureStatus(code, reason, injection.message ?? `injected ${reason} failure`, injection.details));
      return;
    }

    if (req.headers.authorization !== `Bearer ${this.deps.token}`) {
      sendStatus(res, unauthorized());
      return;
    }

    try {
      if (bodyError !== undefined && ['POST', 'PUT', 'PATCH'].includes(method)) {
        throw badRequest(`error decoding request body: ${bodyError}`);
      }
      this.route(method, url, body, contentType, res);
    } catch (err) {
      if (err instanceof KubeApiError) sendStatus(res, err);
      else throw err;
    }
  }

  private route(method: string, url: URL, body: unknown, contentType: string | undefined, res: ServerResponse): void {
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if (['/healthz', '/livez', '/readyz'].includes(path)) {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('ok');
      return;
    }
    if (path === '/version') {
      sendJson(res, 200, { major: '1', minor: '31', gitVersion: 'v1.31.0', platform: 'linux/amd64' });
      return;
    }
    if (path === '/api') {
      sendJson(res, 200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] });
      return;
    }
    if (path === '/apis') {
      const groups = [...new Set(RESOURCES.filter((r) => r.group).map((r) => `${r.group}/${r.version}`))].map((gv) => {
        const [name = '', version = ''] = gv.split('/');
        const v = { groupVersion: gv, version };
        return { name, versions: [v], preferredVersion: v };
      });
      sendJson(res, 200, { kind: 'APIGroupList', apiVersion: 'v1', groups });
      return;
    }
    const parsed = parsePath(path);
    if (!parsed) throw pathNotFound();
    if (!parsed.route) {
      const gv = parsed.group ? `${parsed.group}/${parsed.version ?? ''}` : parsed.version ?? '';
      const resources = RESOURCES.filter((r) => apiVersionOf(r) === gv);
      if (resources.length === 0 || method !== 'GET' || path.split('/').length > (parsed.group ? 4 : 3)) throw pathNotFound();
      sendJson(res, 200, {
        kind: 'APIResourceList',
        apiVersion: 'v1',
        groupVersion: gv,
        resources: resources.flatMap((r) => [
          { name: r.plural, singularName: r.singular, namespaced: r.namespaced, kind: r.kind, verbs: [...RESOURCE_VERBS], shortNames: r.shortNames },
          ...r.subresources.map((s) => ({
            name: `${r.plural}/${s}`,
            singularName: '',
            namespaced: r.namespaced,
            kind: s === 'scale' ? 'Scale' : r.kind,
            verbs: s === 'log' ? ['get'] : ['get', 'patch', 'update'],
          })),
        ]),
      });
      return;
    }
    const { info, namespace, name, subresource } = parsed.route;
    if (info.namespaced && namespace === undefined && name !== undefined) throw pathNotFound();
    const query = url.searchParams;
    const dryRun = query.get('dryRun') === 'All';

    if (name === undefined) {
      if (method === 'GET') return this.list(info, namespace, query, res);
      if (method === 'POST') {
        if (info.namespaced && namespace === undefined) throw methodNotAllowed();
        sendJson(res, 201, this.deps.cluster.create(info, namespace, body, { dryRun }));
        return;
      }
      throw methodNotAllowed();
    }

    if (subresource === 'log' && info.plural === 'pods') {
      if (method !== 'GET') throw methodNotAllowed();
      this.podLog(namespace ?? '', name, query, res);
      return;
    }
    if (subresource === 'status') return this.status(info, namespace, name, method, body, contentType, dryRun, res);
    if (subresource === 'scale' && info.subresources.includes('scale')) return this.scale(info, namespace ?? '', name, method, body, contentType, dryRun, res);
    if (subresource !== undefined) throw pathNotFound();

    switch (method) {
      case 'GET': {
        const obj = this.deps.cluster.get(info, namespace, name);
        sendJson(res, 200, obj);
        this.afterRead(info, namespace ?? '', name);
        return;
      }
      case 'PUT':
        sendJson(res, 200, this.deps.cluster.replace(info, namespace, name, body, { dryRun }));
        return;
      case 'PATCH':
        sendJson(res, 200, this.deps.cluster.patch(info, namespace, name, contentType ?? '', body, { dryRun }));
        return;
      case 'DELETE': {
        const opts = this.deleteOptions(query, body, dryRun);
        const deleted = this.deps.cluster.delete(info, namespace, name, opts);
        if (info.plural === 'pods') {
          // Pods answer with the object being gracefully deleted.
          const metadata = { ...deleted.metadata, deletionTimestamp: rfc3339(this.deps.now()), deletionGracePeriodSeconds: 30 };
          sendJson(res, 200, { ...deleted, metadata });
        } else {
          const details: StatusDetails = { name };
          if (info.group) details.group = info.group;
          details.kind = info.plural;
          details.uid = deleted.metadata.uid;
          sendJson(res, 200, successStatus(details));
        }
        return;
      }
      default:
        throw methodNotAllowed();
    }
  }

  private afterRead(info: ResourceInfo, namespace: string, name: string): void {
    if (info.plural === 'jobs') this.deps.jobs.onRead(namespace, name);
    else this.deps.workloads.onRead(info, namespace, name);
  }

  private deleteOptions(query: URLSearchParams, body: unknown, dryRun: boolean): DeleteOptions {
    const opts: DeleteOptions = { dryRun };
    let policy = query.get('propagationPolicy') ?? (isPlainObject(body) && typeof body.propagationPolicy === 'string' ? body.propagationPolicy : undefined);
    const orphan = query.get('orphanDependents') ?? (isPlainObject(body) && typeof body.orphanDependents === 'boolean' ? String(body.orphanDependents) : undefined);
    if (policy === undefined && orphan !== undefined) policy = orphan === 'true' ? 'Orphan' : 'Background';
    if (isPlainObject(body) && body.dryRun !== undefined && Array.isArray(body.dryRun) && body.dryRun.includes('All')) opts.dryRun = true;
    if (policy !== undefined) {
      if (!['Orphan', 'Background', 'Foreground'].includes(policy)) {
        throw badRequest(`propagationPolicy: Unsupported value: ${JSON.stringify(policy)}: supported values: "Foreground", "Background", "Orphan"`);
      }
      opts.propagationPolicy = policy as PropagationPolicy;
    }
    return opts;
  }

  private list(info: ResourceInfo, namespace: string | undefined, query: URLSearchParams, res: ServerResponse): void {
    if (boolParam(query, 'watch')) throw badRequest('watch is not supported by this API server');
    const labelSelector = query.get('labelSelector');
    const requirements = labelSelector ? parseLabelSelector(labelSelector) : [];
    const fieldSelector = query.get('fieldSelector');
    const fieldMatch = fieldSelector ? parseFieldSelector(info.plural, fieldSelector) : () => true;
    let items = this.deps.cluster.list(info, namespace, (o) => matchesRequirements(o.metadata.labels, requirements) && fieldMatch(o));
    const metadata: Record<string, unknown> = { resourceVersion: this.deps.cluster.currentResourceVersion() };
    const limit = intParam(query, 'limit');
    const cont = query.get('continue');
    let offset = 0;
    if (cont) {
      const decoded = Number(Buffer.from(cont, 'base64url').toString('utf8'));
      if (!Number.isInteger(decoded) || decoded < 0) throw new KubeApiError(failureStatus(410, 'Expired', 'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.'));
      offset = decoded;
    }
    items = items.slice(offset);
    if (limit !== undefined && limit > 0 && items.length > limit) {
      metadata.continue = Buffer.from(String(offset + limit), 'utf8').toString('base64url');
      metadata.remainingItemCount = items.length - limit;
      items = items.slice(0, limit);
    }
    sendJson(res, 200, {
      kind: `${info.kind}List`,
      apiVersion: apiVersionOf(info),
      metadata,
      items: items.map(({ kind: _k, apiVersion: _a, ...rest }) => rest),
    });
  }

  private status(
    info: ResourceInfo,
    namespace: string | undefined,
    name: string,
    method: string,
    body: unknown,
    contentType: string | undefined,
    dryRun: boolean,
    res: ServerResponse,
  ): void {
    if (!info.hasStatus) throw pathNotFound();
    const cluster = this.deps.cluster;
    switch (method) {
      case 'GET':
        sendJson(res, 200, cluster.get(info, namespace, name));
        this.afterRead(info, namespace ?? '', name);
        return;
      case 'PUT':
        sendJson(res, 200, cluster.updateStatus(info, namespace, name, { replace: body }, { dryRun }));
        return;
      case 'PATCH':
        sendJson(res, 200, cluster.updateStatus(info, namespace, name, { contentType: contentType ?? '', body }, { dryRun }));
        return;
      default:
        throw methodNotAllowed();
    }
  }

  private scale(
    info: ResourceInfo,
    namespace: string,
    name: string,
    method: string,
    body: unknown,
    contentType: string | undefined,
    dryRun: boolean,
    res: ServerResponse,
  ): void {
    const cluster = this.deps.cluster;
    const toScale = (obj: KubeObject) => {
      const spec = obj.spec as { replicas?: number; selector?: LabelSelector };
      const status = obj.status as { replicas?: number } | undefined;
      return {
        kind: 'Scale',
        apiVersion: 'autoscaling/v1',
        metadata: {
          name: obj.metadata.name,
          namespace: obj.metadata.namespace,
          uid: obj.metadata.uid,
          resourceVersion: obj.metadata.resourceVersion,
          creationTimestamp: obj.metadata.creationTimestamp,
        },
        spec: { replicas: spec.replicas ?? 0 },
        status: { replicas: status?.replicas ?? 0, selector: spec.selector ? selectorToString(spec.selector) : '' },
      };
    };
    const current = cluster.get(info, namespace, name);
    if (method === 'GET') {
      sendJson(res, 200, toScale(current));
      return;
    }
    if (method !== 'PUT' && method !== 'PATCH') throw methodNotAllowed();
    let scale: unknown = body;
    if (method === 'PATCH') {
      // Patch the Scale view, then apply its spec.replicas to the object.
      scale = cluster.patchDocument(toScale(current), contentType ?? '', body);
    }
    const s = isPlainObject(scale) ? scale : {};
    const meta = isPlainObject(s.metadata) ? s.metadata : {};
    const spec = isPlainObject(s.spec) ? s.spec : {};
    const replicas = spec.replicas;
    if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
      throw badRequest('spec.replicas: Invalid value: must be a non-negative integer');
    }
    const patch: Record<string, unknown> = { spec: { replicas } };
    if (typeof meta.resourceVersion === 'string' && meta.resourceVersion !== '') patch.metadata = { resourceVersion: meta.resourceVersion };
    const updated = cluster.patch(info, namespace, name, MERGE_PATCH, patch, { dryRun });
    sendJson(res, 200, toScale(updated));
  }

  private podLog(namespace: string, name: string, query: URLSearchParams, res: ServerResponse): void {
    const pod = this.deps.cluster.find<Pod>(resourceInfo('pods'), namespace, name);
    if (!pod) throw notFound(resourceInfo('pods'), name);
    const names = pod.spec.containers.map((c) => c.name);
    let container = query.get('container') ?? '';
    if (container === '') {
      if (names.length !== 1) {
        throw badRequest(`a container name must be specified for pod ${name}, choose one of: [${names.join(' ')}]`);
      }
      container = names[0] ?? '';
    }
    if (!names.includes(container)) throw badRequest(`container ${container} is not valid for pod ${name}`);
    const previous = boolParam(query, 'previous');
    const timestamps = boolParam(query, 'timestamps');
    const follow = boolParam(query, 'follow');
    const which = this.logSource(pod, container, previous);

    let lines: LogLine[] = this.deps.logs.read(namespace, name, container, which);
    const sinceSeconds = intParam(query, 'sinceSeconds');
    const sinceTime = query.get('sinceTime');
    if (sinceSeconds !== undefined && sinceTime) throw badRequest('at most one of sinceTime or sinceSeconds may be specified');
    if (sinceSeconds !== undefined) {
      if (sinceSeconds < 1) throw badRequest('sinceSeconds: Invalid value: must be greater than 0');
      const cutoff = this.deps.now().getTime() - sinceSeconds * 1000;
      lines = lines.filter((l) => l.time.getTime() >= cutoff);
    } else if (sinceTime) {
      const cutoff = Date.parse(sinceTime);
      if (Number.isNaN(cutoff)) throw badRequest(`sinceTime: Invalid value: ${JSON.stringify(sinceTime)}`);
      lines = lines.filter((l) => l.time.getTime() >= cutoff);
    }
    const tailLines = intParam(query, 'tailLines');
    if (tailLines !== undefined) {
      if (tailLines < 0) throw badRequest('tailLines: Invalid value: must be greater than or equal to 0');
      lines = tailLines === 0 ? [] : lines.slice(-tailLines);
    }
    let text = lines.map((l) => formatLogLine(l, timestamps)).join('');
    const limitBytes = intParam(query, 'limitBytes');
    if (limitBytes !== undefined) {
      if (limitBytes < 1) throw badRequest('limitBytes: Invalid value: must be greater than 0');
      text = Buffer.from(text, 'utf8').subarray(0, limitBytes).toString('utf8');
    }

    const running = pod.status?.containerStatuses?.find((c) => c.name === container)?.state.running !== undefined;
    if (!follow || previous || !running || limitBytes !== undefined) {
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    if (text.length > 0) res.write(text);
    this.followResponses.add(res);
    const unfollow = this.deps.logs.follow(namespace, name, container, {
      timestamps,
      write: (chunk) => res.write(chunk),
      end: () => res.end(),
    });
    res.on('close', () => {
      unfollow();
      this.followResponses.delete(res);
    });
  }

  /** The kubelet's choice of container instance for a log request (validateContainerLogStatus). */
  private logSource(pod: Pod, container: string, previous: boolean): 'current' | 'previous' {
    const podName = pod.metadata.name ?? '';
    const status = pod.status?.containerStatuses?.find((c) => c.name === container);
    if (!status) throw badRequest(`container "${container}" in pod "${podName}" is waiting to start: ContainerCreating`);
    const { state, lastState } = status;
    if (previous) {
      if (!lastState.terminated) throw badRequest(`previous terminated container "${container}" in pod "${podName}" not found`);
      return 'previous';
    }
    if (state.running || state.terminated) return 'current';
    if (lastState.terminated) return 'previous';
    const reason = state.waiting?.reason ?? 'ContainerCreating';
    if (reason === 'ErrImagePull') throw badRequest(`container "${container}" in pod "${podName}" is waiting to start: image can't be pulled`);
    if (reason === 'ImagePullBackOff') throw badRequest(`container "${container}" in pod "${podName}" is waiting to start: trying and failing to pull image`);
    throw badRequest(`container "${container}" in pod "${podName}" is waiting to start: ${reason}`);
  }
}
