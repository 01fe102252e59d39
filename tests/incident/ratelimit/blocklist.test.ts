import { CreateIPSetCommand, GetIPSetCommand, UpdateIPSetCommand, WAFV2Client } from '@aws-sdk/client-wafv2';
import { NetworkingV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { kubeClientsFrom } from '../../../src/clients.ts';
import type { KubeClients } from '../../../src/core/types.ts';
import { UserFacingError } from '../../../src/core/types.ts';
import { DENYLIST_ANNOTATION, IngressDenylist, WafIpSet } from '../../../commands/incident/ratelimit/blocklist.ts';
import { awsClientConfig, uniqueName } from '../../harness/env.ts';
import { botRoleRules, kubeNamespace } from '../../harness/kube-env.ts';
import type { TestNamespace } from '../../harness/kube-env.ts';

const INGRESS = {
  rules: [{ host: 'app.example', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'backend', port: { number: 8000 } } } }] } }],
};

describe('ingress-nginx deny list annotation', () => {
  let ns: TestNamespace;
  let kube: KubeClients;
  const name = 'autostack';

  beforeEach(async () => {
    ns = await kubeNamespace();
    kube = kubeClientsFrom(ns.bot);
  });

  async function createIngress(annotations?: Record<string, string>): Promise<void> {
    await ns.kube.networking.createNamespacedIngress({ namespace: ns.name, body: { metadata: { name, annotations }, spec: INGRESS } });
  }
  const annotations = async () => (await ns.kube.networking.readNamespacedIngress({ name, namespace: ns.name })).metadata?.annotations ?? {};
  const annotation = async () => (await annotations())[DENYLIST_ANNOTATION];

  it('adds to the entries already there and removes only its own', async () => {
    await createIngress({ [DENYLIST_ANNOTATION]: '192.0.2.0/24, 198.51.100.7', 'other/annotation': 'kept' });
    const list = new IngressDenylist(kube, ns.name, name);
    expect(await list.add('203.0.113.7/32')).toEqual({ changed: true, entries: 3 });
    expect(await annotation()).toBe('192.0.2.0/24,198.51.100.7,203.0.113.7/32');
    // Same network written differently: already there.
    expect(await list.add('198.51.100.7/32')).toEqual({ changed: false, entries: 3 });
    expect(await list.remove('203.0.113.7/32')).toEqual({ changed: true, entries: 2 });
    expect(await annotation()).toBe('192.0.2.0/24,198.51.100.7');
    expect((await annotations())['other/annotation']).toBe('kept');
    expect(await list.remove('203.0.113.7/32')).toEqual({ changed: false, entries: 2 });
  });

  it('creates the annotation (and the annotations map) when there is none, and removes it when the last entry goes', async () => {
    await createIngress();
    const list = new IngressDenylist(kube, ns.name, name);
    await list.add('2001:db8::/48');
    expect(await annotation()).toBe('2001:db8::/48');
    await list.remove('2001:db8::/48');
    expect(await annotations()).not.toHaveProperty(DENYLIST_ANNOTATION);
  });

  it('does not lose an entry someone else added between its read and its write', async () => {
    await createIngress({ [DENYLIST_ANNOTATION]: '192.0.2.1/32' });
    const other = ns.admin.makeApiClient(NetworkingV1Api);
    let interfered = false;
    // A colleague's edit lands right after our first read: the API server rejects our patch,
    // whose test of the value we read no longer holds, and the bot reads again.
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
                { name, namespace: ns.name, body: { metadata: { annotations: { [DENYLIST_ANNOTATION]: '192.0.2.1/32,198.51.100.99/32' } } } },
                setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
              );
            }
            return read;
          };
        },
      }),
    };
    const result = await new IngressDenylist(racing, ns.name, name).add('203.0.113.7/32');
    expect(interfered).toBe(true);
    expect(result).toEqual({ changed: true, entries: 3 });
    expect(await annotation()).toBe('192.0.2.1/32,198.51.100.99/32,203.0.113.7/32');
  });

  it('says what is wrong when the Ingress does not exist or its Role does not let it change the Ingress', async () => {
    // The configured Ingress, which the Role names, not created yet.
    const missing = new IngressDenylist(kube, ns.name, name);
    await expect(missing.add('203.0.113.7/32')).rejects.toThrow(UserFacingError);
    await expect(missing.add('203.0.113.7/32')).rejects.toThrow(`Ingress ${ns.name}/${name} not found; nothing was changed.`);
    // Any other Ingress is outside the Role (resourceNames): forbidden, and said so.
    await expect(new IngressDenylist(kube, ns.name, 'other').add('203.0.113.7/32')).rejects.toThrow(/403.*forbidden.*Nothing was changed/);
    // A Role that may read Ingresses but not patch them.
    const rules = botRoleRules().map((rule) => ((rule.resources ?? []).includes('ingresses') ? { ...rule, verbs: ['get'] } : rule));
    ns = await kubeNamespace({ rules });
    await createIngress();
    const refused = new IngressDenylist(kubeClientsFrom(ns.bot), ns.name, name).add('203.0.113.7/32');
    await expect(refused).rejects.toThrow(/403.*forbidden.*Nothing was changed/);
    expect(await annotation()).toBeUndefined();
  });
});

describe('ingress-nginx deny list annotation against a concurrent writer', () => {
  it('reads again and retries when the Ingress changed between its read and the patch, keeping the other change', async () => {
    const ns = await kubeNamespace();
    // The shipped Role grants the Ingress by name.
    const name = 'autostack';
    await ns.kube.networking.createNamespacedIngress({ namespace: ns.name, body: { metadata: { name }, spec: INGRESS } });
    const bot = kubeClientsFrom(ns.bot);
    let patches = 0;
    // Someone else annotates the Ingress right before the bot's first patch: its guard (a test of
    // the resourceVersion read) fails on the real API server, and the bot starts over.
    const networking = new Proxy(bot.networking, {
      get(target, prop, receiver) {
        if (prop !== 'patchNamespacedIngress') return Reflect.get(target, prop, receiver);
        return async (...args: Parameters<NetworkingV1Api['patchNamespacedIngress']>) => {
          if (patches++ === 0) {
            await ns.kube.networking.patchNamespacedIngress(
              { name, namespace: ns.name, body: [{ op: 'add', path: '/metadata/annotations', value: { owner: 'platform-team' } }] },
              setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
            );
          }
          return target.patchNamespacedIngress(...args);
        };
      },
    });
    await new IngressDenylist({ ...bot, networking }, ns.name, name).add('203.0.113.7/32');
    expect(patches).toBe(2);
    const annotations = (await ns.kube.networking.readNamespacedIngress({ name, namespace: ns.name })).metadata?.annotations;
    expect(annotations).toEqual({ owner: 'platform-team', [DENYLIST_ANNOTATION]: '203.0.113.7/32' });
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
