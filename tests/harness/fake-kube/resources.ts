/**
 * The API resources the fake serves, with the metadata that drives routing,
 * discovery, error messages and write semantics.
 */

export interface ResourceInfo {
  /** Plural resource name used in URLs ("deployments"). */
  plural: string;
  singular: string;
  kind: string;
  /** API group; "" for the core group. */
  group: string;
  version: string;
  namespaced: boolean;
  /** Has a status subresource: writes to the main resource keep the stored status. */
  hasStatus: boolean;
  /** metadata.generation is maintained and bumped on spec changes. */
  tracksGeneration: boolean;
  shortNames: string[];
  subresources: string[];
}

export const RESOURCES: readonly ResourceInfo[] = [
  {
    plural: 'namespaces', singular: 'namespace', kind: 'Namespace', group: '', version: 'v1',
    namespaced: false, hasStatus: true, tracksGeneration: false, shortNames: ['ns'], subresources: ['status'],
  },
  {
    plural: 'pods', singular: 'pod', kind: 'Pod', group: '', version: 'v1',
    namespaced: true, hasStatus: true, tracksGeneration: false, shortNames: ['po'], subresources: ['status', 'log'],
  },
  {
    plural: 'events', singular: 'event', kind: 'Event', group: '', version: 'v1',
    namespaced: true, hasStatus: false, tracksGeneration: false, shortNames: ['ev'], subresources: [],
  },
  {
    plural: 'secrets', singular: 'secret', kind: 'Secret', group: '', version: 'v1',
    namespaced: true, hasStatus: false, tracksGeneration: false, shortNames: [], subresources: [],
  },
  {
    plural: 'deployments', singular: 'deployment', kind: 'Deployment', group: 'apps', version: 'v1',
    namespaced: true, hasStatus: true, tracksGeneration: true, shortNames: ['deploy'], subresources: ['status', 'scale'],
  },
  {
    plural: 'replicasets', singular: 'replicaset', kind: 'ReplicaSet', group: 'apps', version: 'v1',
    namespaced: true, hasStatus: true, tracksGeneration: true, shortNames: ['rs'], subresources: ['status', 'scale'],
  },
  {
    plural: 'statefulsets', singular: 'statefulset', kind: 'StatefulSet', group: 'apps', version: 'v1',
    namespaced: true, hasStatus: true, tracksGeneration: true, shortNames: ['sts'], subresources: ['status', 'scale'],
  },
  {
    plural: 'jobs', singular: 'job', kind: 'Job', group: 'batch', version: 'v1',
    namespaced: true, hasStatus: true, tracksGeneration: true, shortNames: [], subresources: ['status'],
  },
  {
    plural: 'ingresses', singular: 'ingress', kind: 'Ingress', group: 'networking.k8s.io', version: 'v1',
    namespaced: true, hasStatus: true, tracksGeneration: true, shortNames: ['ing'], subresources: ['status'],
  },
];

export type ResourceName =
  | 'namespaces'
  | 'pods'
  | 'events'
  | 'secrets'
  | 'deployments'
  | 'replicasets'
  | 'statefulsets'
  | 'jobs'
  | 'ingresses';

export function resourceInfo(plural: ResourceName): ResourceInfo {
  const info = RESOURCES.find((r) => r.plural === plural);
  if (!info) throw new Error(`unknown resource ${plural}`);
  return info;
}

/** Finds a resource served under the given group/version ("" group = core). */
export function findResource(group: string, version: string, plural: string): ResourceInfo | undefined {
  return RESOURCES.find((r) => r.group === group && r.version === version && r.plural === plural);
}

export function apiVersionOf(info: ResourceInfo): string {
  return info.group ? `${info.group}/${info.version}` : info.version;
}

/** "deployments.apps", "secrets": the form the API server uses in messages. */
export function qualifiedResource(info: ResourceInfo): string {
  return info.group ? `${info.plural}.${info.group}` : info.plural;
}

/** "Deployment.apps", "Secret": the form used in Invalid messages. */
export function qualifiedKind(info: ResourceInfo): string {
  return info.group ? `${info.kind}.${info.group}` : info.kind;
}

/** Verbs advertised in discovery for every served resource. */
export const RESOURCE_VERBS: readonly string[] = ['create', 'delete', 'get', 'list', 'patch', 'update'];
