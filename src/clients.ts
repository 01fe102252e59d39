/**
 * Builds the injected clients from configuration. AWS uses the SDK's default credential chain
 * and region; with a role to assume, each person's calls run under a session named after them
 * so CloudTrail shows who asked.
 */
import { IAMClient } from '@aws-sdk/client-iam';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { STSClient, AssumeRoleCommand } from '@aws-sdk/client-sts';
import { WAFV2Client } from '@aws-sdk/client-wafv2';
import { createS3Client } from './s3-client.ts';
import { AppsV1Api, BatchV1Api, CoreV1Api, KubeConfig, NetworkingV1Api } from '@kubernetes/client-node';
import { WebClient, LogLevel } from '@slack/web-api';
import type { Notifier } from './core/notifier.ts';
import type { Redis } from 'ioredis';
import type { Config } from './config.ts';
import type { AwsClients, Clients, Clock, KubeClients } from './core/types.ts';
import { UserFacingError } from './core/types.ts';

export const systemClock: Clock = { now: () => new Date() };

const DEFAULT_REGION = 'us-east-1';

/** Slack role session names allow [\w+=,.@-], up to 64 characters. */
export function roleSessionName(onBehalfOf: string | undefined): string {
  return `autostack-${(onBehalfOf ?? 'bot').replace(/[^\w+=,.@-]/g, '-')}`.slice(0, 64);
}

export function createAwsClientFactory(config: Config['aws']): (onBehalfOf?: string) => AwsClients {
  const region = config.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? DEFAULT_REGION;
  const common = { region, ...(config.endpoint ? { endpoint: config.endpoint } : {}) };
  const baseSts = new STSClient(common);
  const cache = new Map<string, AwsClients>();
  return (onBehalfOf) => {
    const session = roleSessionName(onBehalfOf);
    const cached = cache.get(session);
    if (cached) return cached;
    const credentials = config.assumeRoleArn ? assumedRoleCredentials(baseSts, config.assumeRoleArn, session) : undefined;
    const options = { ...common, ...(credentials ? { credentials } : {}) };
    const clients: AwsClients = {
      iam: new IAMClient(options),
      s3: createS3Client({ ...options, forcePathStyle: config.s3ForcePathStyle }),
      dynamodb: new DynamoDBClient(options),
      sts: credentials ? new STSClient(options) : baseSts,
      wafv2: new WAFV2Client(options),
    };
    cache.set(session, clients);
    return clients;
  };
}

function assumedRoleCredentials(sts: STSClient, roleArn: string, sessionName: string) {
  let current: { accessKeyId: string; secretAccessKey: string; sessionToken?: string; expiration?: Date } | undefined;
  return async () => {
    // Refresh five minutes before expiry.
    if (!current || (current.expiration && current.expiration.getTime() - Date.now() < 300_000)) {
      const result = await sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: sessionName, DurationSeconds: 3600 }));
      const c = result.Credentials;
      if (!c?.AccessKeyId || !c.SecretAccessKey) throw new Error(`sts:AssumeRole on ${roleArn} returned no credentials`);
      current = { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: c.Expiration };
    }
    return current;
  };
}

export function createKubeFactory(config: Config['kubernetes']): () => KubeClients {
  let clients: KubeClients | undefined;
  return () => {
    if (clients) return clients;
    const kc = new KubeConfig();
    if (config.kubeconfig) kc.loadFromFile(config.kubeconfig);
    else if (process.env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
    else kc.loadFromDefault();
    if (!kc.getCurrentCluster()) {
      throw new UserFacingError('No Kubernetes cluster is configured.', 'Set KUBECONFIG (or kubernetes.kubeconfig), or run the bot inside the cluster.');
    }
    clients = kubeClientsFrom(kc);
    return clients;
  };
}

export function kubeClientsFrom(kc: KubeConfig): KubeClients {
  return { config: kc, core: kc.makeApiClient(CoreV1Api), apps: kc.makeApiClient(AppsV1Api), batch: kc.makeApiClient(BatchV1Api), networking: kc.makeApiClient(NetworkingV1Api) };
}

/**
 * Slack client for background work. Rate-limited calls are rejected so our own code decides how
 * long to wait (the library's default could hold a call for many minutes).
 */
/**
 * The Web API client. `interactive`: for calls a person waits on before any answer (role
 * lookups): no retries and a short timeout; the caller decides what a failure means.
 */
export function createSlackClient(token: string | undefined, apiUrl: string | undefined, interactive = false): WebClient {
  return new WebClient(token, {
    ...(apiUrl ? { slackApiUrl: apiUrl } : {}),
    rejectRateLimitedCalls: true,
    retryConfig: interactive ? { retries: 0 } : { retries: 2, factor: 2, minTimeout: 500, maxTimeout: 4000 },
    timeout: interactive ? 3000 : 15_000,
    logLevel: LogLevel.ERROR,
  });
}

export type ClientOverrides = Partial<Pick<Clients, 'http' | 'clock' | 'kube'>>;

export function createClients(config: Config, redis: Redis, notify: Notifier, overrides: ClientOverrides = {}): Clients {
  return {
    aws: createAwsClientFactory(config.aws),
    kube: overrides.kube ?? createKubeFactory(config.kubernetes),
    redis,
    notify,
    http: overrides.http ?? fetch,
    clock: overrides.clock ?? systemClock,
  };
}
