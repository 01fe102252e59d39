/**
 * The platform the playground pretends to run: names, images, people and the incident in progress.
 * The seeders and the playground test read the same constants.
 *
 * The story: backend 1.4.2 went out three hours ago (OAuth state moved to Redis); since then users
 * hit oauth_state errors. One backend pod crashed once after losing the database. A few clients
 * hammer POST /login and the rate limiter answers 429. Someone left a `terraform apply` waiting at
 * its prompt 40 minutes ago, so the state is locked. Platform deployment 1042 of a customer app
 * failed.
 */

export const NAMESPACE = 'autostack';
export const ACCOUNT_ID = '123456789012';
export const REGION = 'us-east-1';
export const REGISTRY = `${ACCOUNT_ID}.dkr.ecr.${REGION}.amazonaws.com/autostack`;
export const PUBLIC_URL = 'https://autostack.example.com';
export const INCIDENT_CHANNEL = 'C0INCIDENT';

/** Slack IDs of the console's demo users (dev/console/console.ts DEMO_USERS). */
export const PEOPLE = { alice: 'U0ALICE', bob: 'U0BOB', carol: 'U0CAROL', dave: 'U0DAVE' } as const;

export const BACKEND = {
  deployment: 'backend',
  container: 'backend',
  image: `${REGISTRY}/backend`,
  port: 8000,
  replicas: 2,
  /** Oldest first; the last one is live. */
  revisions: [
    { tag: '1.4.1', changeCause: 'deploy 1.4.1: paginate the deployments list (bob)', hoursAgo: 52 },
    { tag: '1.4.2', changeCause: 'deploy 1.4.2: keep OAuth state in Redis instead of the session cookie (alice)', hoursAgo: 3 },
  ],
  secret: 'backend-env',
} as const;

export const INGRESS_CONTROLLER = {
  deployment: 'ingress-nginx-controller',
  image: 'registry.k8s.io/ingress-nginx/controller:v1.11.3',
  upstream: `${NAMESPACE}-backend-${BACKEND.port}`,
} as const;

export const DATABASE = {
  name: 'autostack',
  role: 'autostack',
  workload: 'db',
  image: 'postgres:15.8',
  /** Alembic head the backend's migrations reached. */
  alembicHead: '7d2e5a1c9f03',
} as const;

export const TERRAFORM = {
  bucket: 'autostack-tfstate',
  table: 'autostack-tf-locks',
  key: 'autostack/terraform.tfstate',
  /** Who left the apply waiting, in Terraform's user@host form. */
  lockWho: 'carol@ops-bastion-1',
  lockAgeMinutes: 40,
} as const;

export const BACKUPS = { bucket: 'autostack-backups', prefix: 'db/', nights: 3 } as const;

export const IAM = { role: 'AutoStackTerraformRole', policy: 'AutoStackMinimalPolicy' } as const;

/** Clients hammering POST /login (the 429 burst), heaviest first: address and 429s in the burst. */
export const ATTACKERS = [
  { ip: '203.0.113.7', count: 420, path: '/login', agent: 'python-requests/2.31.0' },
  { ip: '198.51.100.23', count: 130, path: '/login', agent: 'curl/8.5.0' },
  { ip: '2001:db8:85a3::7334', count: 60, path: '/auth/github', agent: 'Go-http-client/1.1' },
] as const;

/** Ordinary users (200s). */
export const VISITORS = ['198.51.100.4', '198.51.100.61', '192.0.2.18', '192.0.2.201', '2001:db8:1::42'] as const;

/** Kubelet's probe source inside the cluster. */
export const PROBE_IP = '10.0.3.17';

/** Platform deployments known to the backend API (customer apps), newest last. */
export const PLATFORM_DEPLOYMENTS = [
  { id: '1039', app: 'acme-web', version: 'v2.3.0', status: 'succeeded', hoursAgo: 30 },
  { id: '1040', app: 'acme-api', version: 'v0.9.4', status: 'succeeded', hoursAgo: 20 },
  { id: '1041', app: 'globex-shop', version: 'v5.1.0', status: 'succeeded', hoursAgo: 6 },
  { id: '1042', app: 'acme-web', version: 'v2.4.0', status: 'failed', hoursAgo: 1 },
] as const;
