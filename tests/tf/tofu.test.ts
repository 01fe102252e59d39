/**
 * A real Terraform-compatible client after `tf restore`: OpenTofu (built from the Go module
 * proxy by scripts/build-tofu.sh; Terraform itself cannot be built that way, its go.mod has
 * replace directives and its releases are binaries from outside the package registries) with
 * its S3 backend against moto: DynamoDB lock, checksum item, versioned bucket. Only the builtin
 * `terraform_data` resource is used, so no provider is downloaded.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectRestore, performRestore } from '../../commands/tf/restore.ts';
import { listStateVersions, readStateObject } from '../../commands/tf/versions.ts';
import { awsClients, testServices, TEST_AWS_CREDENTIALS, TEST_AWS_REGION } from '../harness/env.ts';
import { DDB_KEY, getItem, md5, tfWorld } from './fixtures.ts';
import type { TfWorld } from './fixtures.ts';

const run = promisify(execFile);
const aws = awsClients();
let tofu: string;
let dir: string;
let world: TfWorld;

beforeAll(async () => {
  // Reuses the cached build (scripts/install-test-deps.sh makes it); builds it when missing.
  const built = await run('bash', [join(process.cwd(), 'scripts/build-tofu.sh')], { maxBuffer: 16 * 1024 * 1024, timeout: 30 * 60_000 });
  tofu = built.stdout.trim().split('\n').at(-1)!;
  dir = await mkdtemp(join(tmpdir(), 'autostack-tofu-'));
  world = await tfWorld(aws);
  const endpoint = testServices().awsEndpoint;
  await writeFile(join(dir, 'cli.tfrc'), '');
  await writeFile(
    join(dir, 'main.tf'),
    `terraform {
  backend "s3" {
    bucket                      = "${world.bucket}"
    key                         = "${DDB_KEY}"
    region                      = "${TEST_AWS_REGION}"
    dynamodb_table              = "${world.table}"
    endpoints                   = { s3 = "${endpoint}", dynamodb = "${endpoint}", sts = "${endpoint}", iam = "${endpoint}" }
    use_path_style              = true
    skip_credentials_validation = true
    skip_requesting_account_id  = true
    skip_metadata_api_check     = true
    skip_region_validation      = true
  }
}

variable "release" {
  type = string
}

resource "terraform_data" "release" {
  input = var.release
}

output "release" {
  value = terraform_data.release.output
}
`,
  );
  await tf(['init', '-input=false']);
}, 35 * 60_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Runs tofu in the working directory; resolves with its exit code and output (never throws on a non-zero exit). */
async function tf(args: string[]): Promise<{ code: number; out: string }> {
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: dir,
    TF_CLI_CONFIG_FILE: join(dir, 'cli.tfrc'),
    TF_IN_AUTOMATION: '1',
    TF_INPUT: '0',
    CHECKPOINT_DISABLE: '1',
    AWS_ACCESS_KEY_ID: TEST_AWS_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TEST_AWS_CREDENTIALS.secretAccessKey,
    AWS_REGION: TEST_AWS_REGION,
  };
  try {
    const { stdout, stderr } = await run(tofu, [...args, '-no-color'], { cwd: dir, env, maxBuffer: 16 * 1024 * 1024, timeout: 300_000 });
    return { code: 0, out: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === 'number' ? failed.code : -1, out: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

async function apply(release: string): Promise<void> {
  // -lock-timeout: on a loaded machine the previous run may still be releasing its lock.
  const result = await tf(['apply', '-auto-approve', '-input=false', '-lock-timeout=60s', `-var=release=${release}`]);
  expect(result.out, result.out).toContain('Apply complete!');
  expect(result.code).toBe(0);
}

describe('tf restore, then OpenTofu plan and apply against the same backend', () => {
  it('restores an older version above every serial in the history; the client plans and applies on top of it', async () => {
    await apply('r1');
    await apply('r2');
    await apply('r3');
    const state = world.state('default');
    const before = await listStateVersions(world.s3, state, 100);
    const oldest = before.at(-1)!;
    const highest = Math.max(...before.map((v) => v.summary!.serial!));
    const lineage = before[0]!.summary!.lineage!;

    const snapshot = await inspectRestore(world.clients, state, { versionId: oldest.versionId, state: 'default', allowOtherLineage: false }, new Date());
    const steps: string[] = [];
    const result = await performRestore(world.clients, state, snapshot, { requestedBy: 'U012ABCDEF', now: () => new Date(), step: async (text) => void steps.push(text) });

    const restored = await readStateObject(world.s3, state);
    expect(restored.versionId).toBe(result.newVersionId);
    expect(restored.summary.serial).toBe(highest + 1);
    expect(restored.summary.lineage).toBe(lineage);
    expect((await getItem(world, state.digestId))?.Digest?.S).toBe(restored.md5);

    // The client reads the restored state (checksum accepted) and sees r1 recorded.
    const plan = await tf(['plan', '-input=false', '-detailed-exitcode', '-lock-timeout=60s', '-var=release=r4']);
    expect(plan.out, plan.out).toMatch(/~ input\s+= "r1" -> "r4"/);
    expect(plan.code).toBe(2);
    await apply('r4');

    const after = await listStateVersions(world.s3, state, 100);
    const current = await readStateObject(world.s3, state);
    expect(current.summary).toMatchObject({ serial: highest + 2, lineage });
    expect((await getItem(world, state.digestId))?.Digest?.S).toBe(md5(current.body));
    // No two different snapshots in the history share a serial.
    const contentsBySerial = new Map<number, Set<string>>();
    for (const version of after) {
      const object = await readStateObject(world.s3, state, version.versionId);
      const serial = object.summary.serial!;
      contentsBySerial.set(serial, (contentsBySerial.get(serial) ?? new Set()).add(object.md5));
    }
    expect([...contentsBySerial.values()].filter((contents) => contents.size > 1)).toEqual([]);
    expect(after).toHaveLength(before.length + 2);

    const pulled = await tf(['output', '-raw', 'release']);
    expect(pulled.out.trim()).toBe('r4');
  }, 900_000);
});
