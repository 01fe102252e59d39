import { CreateIPSetCommand, GetIPSetCommand, UpdateIPSetCommand, WAFV2Client } from '@aws-sdk/client-wafv2';
import { NetworkingV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { kubeClientsFrom } from '../../../src/clients.ts';
import type { KubeClients } from '../../../src/core/types.ts';
import { UserFacingError } from '../../../src/core/types.ts';
import { DENYLIST_ANNOTATION, IngressDenylist, WafIpSet } from '../../../commands/incident/ratelimit/blocklist.ts';
import { FakeKube } from '../../harness/fake-kube.ts';
import { awsClientConfig, uniqueName } from '../../harness/env.ts';

const NS = 'autostack';

describe('ingress-nginx deny list annotation', () => {
  let fake: FakeKube;
  let kube: KubeClients;
  let name: string;

  beforeEach(async () => {
    fake = await FakeKube.start();
    kube = kubeClientsFrom(fake.kubeConfig({ namespace: NS }));
    name = uniqueName('ing');
  });
  afterEach(async () => {
    await fake.close();
  });

  const annotation = () => fake.getIngress(NS, name)?.metadata.annotations?.[DENYLIST_ANNOTATION];

  it('adds to the entries already there and removes only its own', async () => {
    fake.seedIngress({ namespace: NS, name, host: 'app.example', serviceName: 'backend', servicePort: 8000, annotations: { [DENYLIST_ANNOTATION]: '192.0.2.0/24, 198.51.100.7', 'other/annotation': 'kept' } });
    const list = new IngressDenylist(kube, NS, name);
    expect(await list.add('203.0.113.7/32')).toEqual({ changed: true, entries: 3 });
    expect(annotation()).toBe('192.0.2.0/24,198.51.100.7,203.0.113.7/32');
    // Same network written differently: already there.
    expect(await list.add('198.51.100.7/32')).toEqual({ changed: false, entries: 3 });
    expect(await list.remove('203.0.113.7/32')).toEqual({ changed: true, entries: 2 });
    expect(annotation()).toBe('192.0.2.0/24,198.51.100.7');
    expect(fake.getIngress(NS, name)?.metadata.annotations?.['other/annotation']).toBe('kept');
    expect(await list.remove('203.0.113.7/32')).toEqual({ changed: false, entries: 2 });
    // A JSON patch guarded by a test of the value that was read.
    const patches = fake.requestsMatching('PATCH', `/apis/networking.k8s.io/v1/namespaces/${NS}/ingresses/${name}`);
    expect(patches).toHaveLength(2);
    expect(patches[0]!.contentType).toBe('application/json-patch+json');
    expect((patches[0]!.body as unknown[])[0]).toEqual({ op: 'test', path: '/metadata/annotations/nginx.ingress.kubernetes.io~1denylist-source-range', value: '192.0.2.0/24, 198.51.100.7' });
  });

  it('creates the annotation (and the annotations map) when there is none, and removes it when the last entry goes', async () => {
    fake.seedIngress({ namespace: NS, name, host: 'app.example', serviceName: 'backend', servicePort: 8000 });
    const list = new IngressDenylist(kube, NS, name);
    await list.add('2001:db8::/48');
    expect(annotation()).toBe('2001:db8::/48');
    await list.remove('2001:db8::/48');
    expect(fake.getIngress(NS, name)?.metadata.annotations ?? {}).not.toHaveProperty(DENYLIST_ANNOTATION);
  });

  it('does not lose an entry someone else added between its read and its write', async () => {
    fake.seedIngress({ namespace: NS, name, host: 'app.example', serviceName: 'backend', servicePort: 8000, annotations: { [DENYLIST_ANNOTATION]: '192.0.2.1/32' } });
    const other = fake.kubeConfig({ namespace: NS }).makeApiClient(NetworkingV1Api);
    let interfered = false;
    // A colleague's edit lands right after our first read.
    const racing: KubeClients = {
      ...kube,
      networking: new Proxy(kube.networking, {
        get(target, prop, receiver) {
          const value = Reflect.get(target, prop, receiver);
          if (prop !== 'readNamespacedIngress') return value;
          return async (...args: unknown[]) => {
            const read = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
            if (!interfered) {
              interfered = true;
              await other.patchNamespacedIngress(
                { name, namespace: NS, body: { metadata: { annotations: { [DENYLIST_ANNOTATION]: '192.0.2.1/32,198.51.100.99/32' } } } },
                setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
              );
            }
            return read;
          };
        },
      }),
    };
    const result = await new IngressDenylist(racing, NS, name).add('203.0.113.7/32');
    expect(result).toEqual({ changed: true, entries: 3 });
    expect(annotation()).toBe('192.0.2.1/32,198.51.100.99/32,203.0.113.7/32');
    // Our first JSON patch tested the value it had read, failed (the colleague's merge patch came
    // first) and was made again after a fresh read.
    const patches = fake.requestsMatching('PATCH', `/apis/networking.k8s.io/v1/namespaces/${NS}/ingresses/${name}`);
    expect(patches.map((r) => r.contentType)).toEqual(['application/merge-patch+json', 'application/json-patch+json', 'application/json-patch+json']);
    expect((patches[1]!.body as Array<{ value?: unknown }>)[0]!.value).toBe('192.0.2.1/32');
    expect((patches[2]!.body as Array<{ value?: unknown }>)[0]!.value).toBe('192.0.2.1/32,198.51.100.99/32');
  });

  it('retries a 409 conflict', async () => {
    fake.seedIngress({ namespace: NS, name, host: 'app.example', serviceName: 'backend', servicePort: 8000 });
    const injected = fake.failNext({ method: 'PATCH', path: `/apis/networking.k8s.io/v1/namespaces/${NS}/ingresses/${name}`, code: 409 });
    await new IngressDenylist(kube, NS, name).add('203.0.113.7/32');
    expect(injected.hits).toBe(1);
    expect(annotation()).toBe('203.0.113.7/32');
  });

  it('says what is wrong when the Ingress does not exist or refuses the change', async () => {
    const missing = new IngressDenylist(kube, NS, 'nope');
    await expect(missing.add('203.0.113.7/32')).rejects.toThrow(UserFacingError);
    await expect(missing.add('203.0.113.7/32')).rejects.toThrow(`Ingress ${NS}/nope not found; nothing was changed.`);
    fake.seedIngress({ namespace: NS, name, host: 'app.example', serviceName: 'backend', servicePort: 8000 });
    fake.failNext({ method: 'PATCH', path: `/apis/networking.k8s.io/v1/namespaces/${NS}/ingresses/${name}`, code: 403, message: 'ingresses is forbidden' });
    const refused = new IngressDenylist(kube, NS, name).add('203.0.113.7/32');
    await expect(refused).rejects.toThrow(/403.*forbidden.*Nothing was changed/);
    expect(annotation()).toBeUndefined();
  });
});

describe('AWS WAF IP set (moto)', () => {
  let waf: WAFV2Client;
  beforeAll(() => {
    waf = new WAFV2Client(awsClientConfig());
  });
  afterAll(() => waf.destroy());

  async function createSet(version: 'IPV4' | 'IPV6', addresses: string[]) {
    const name = uniqueName('deny');
    const out = await waf.send(new CreateIPSetCommand({ Name: name, Scope: 'REGIONAL', IPAddressVersion: version, Addresses: addresses, Description: 'autostack deny list' }));
    return { name, id: out.Summary!.Id!, scope: 'REGIONAL' as const };
  }
  const addresses = async (set: { name: string; id: string }) => (await waf.send(new GetIPSetCommand({ Name: set.name, Id: set.id, Scope: 'REGIONAL' }))).IPSet!;

  it('adds and removes with the lock token, keeping other addresses and the description', async () => {
    const set = await createSet('IPV4', ['192.0.2.0/24']);
    const list = new WafIpSet(waf, set);
    expect(await list.add('203.0.113.7/32')).toEqual({ changed: true, entries: 2 });
    expect(await list.add('203.0.113.7/32')).toEqual({ changed: false, entries: 2 });
    expect((await addresses(set)).Addresses).toEqual(['192.0.2.0/24', '203.0.113.7/32']);
    expect(await list.remove('203.0.113.7/32')).toEqual({ changed: true, entries: 1 });
    const after = await addresses(set);
    expect(after.Addresses).toEqual(['192.0.2.0/24']);
    expect(after.Description).toBe('autostack deny list');
  });

  it('retries after an optimistic lock failure without losing the other writer’s address', async () => {
    const set = await createSet('IPV4', []);
    let interfered = false;
    const racing = new Proxy(waf, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (prop !== 'send') return value;
        return async (command: unknown) => {
          const result = await (value as (c: unknown) => Promise<unknown>).call(target, command);
          if (command instanceof GetIPSetCommand && !interfered) {
            interfered = true;
            const current = await target.send(new GetIPSetCommand({ Name: set.name, Id: set.id, Scope: 'REGIONAL' }));
            await target.send(new UpdateIPSetCommand({ Name: set.name, Id: set.id, Scope: 'REGIONAL', Addresses: ['198.51.100.99/32'], LockToken: current.LockToken! }));
          }
          return result;
        };
      },
    });
    await new WafIpSet(racing, set).add('203.0.113.7/32');
    expect((await addresses(set)).Addresses).toEqual(['198.51.100.99/32', '203.0.113.7/32']);
  });

  it('refuses an address of the other family', async () => {
    const set = await createSet('IPV4', []);
    await expect(new WafIpSet(waf, set).add('2001:db8::1/128')).rejects.toThrow(/holds IPV4 addresses and 2001:db8::1\/128 is IPV6; nothing was changed/);
  });

  it('says when the IP set does not exist', async () => {
    await expect(new WafIpSet(waf, { name: 'missing', id: '00000000-0000-0000-0000-000000000000', scope: 'REGIONAL' }).add('203.0.113.7/32')).rejects.toThrow(/does not exist/);
  });
});
