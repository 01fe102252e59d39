/**
 * Validates Kubernetes manifests against the API server's own OpenAPI v3 documents (and CRD
 * schemas), as strict field validation does: unknown fields, wrong types, missing required
 * fields and values outside an enum are errors. The documents come from scripts/build-tools.sh.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';

interface Schema {
  $ref?: string;
  type?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
  required?: string[];
  enum?: unknown[];
  allOf?: Schema[];
  oneOf?: Schema[];
  anyOf?: Schema[];
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-group-version-kind'?: Array<{ group: string; version: string; kind: string }>;
}

export interface KubeSchemas {
  validate(manifest: Record<string, unknown>): string[];
  kinds(): string[];
}

const gvk = (apiVersion: string, kind: string) => `${apiVersion}/${kind}`;

export function loadSchemas(dir: string): KubeSchemas {
  const components = new Map<string, Schema>();
  const roots = new Map<string, Schema>();
  for (const file of readdirSync(join(dir, 'kubernetes'))) {
    const doc = JSON.parse(readFileSync(join(dir, 'kubernetes', file), 'utf8')) as { components?: { schemas?: Record<string, Schema> } };
    for (const [name, schema] of Object.entries(doc.components?.schemas ?? {})) {
      components.set(name, schema);
      for (const k of schema['x-kubernetes-group-version-kind'] ?? []) roots.set(gvk(k.group ? `${k.group}/${k.version}` : k.version, k.kind), schema);
    }
  }
  for (const file of readdirSync(join(dir, 'crds'))) {
    const crd = parseYaml(readFileSync(join(dir, 'crds', file), 'utf8')) as {
      spec: { group: string; names: { kind: string }; versions: Array<{ name: string; schema: { openAPIV3Schema: Schema } }> };
    };
    for (const version of crd.spec.versions) {
      // CRD schemas leave metadata to the API server: use the ObjectMeta schema for it.
      const schema = version.schema.openAPIV3Schema;
      const withMeta = { ...schema, properties: { ...schema.properties, metadata: { $ref: '#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta' } } };
      roots.set(gvk(`${crd.spec.group}/${version.name}`, crd.spec.names.kind), withMeta);
    }
  }

  const resolve = (schema: Schema): Schema => {
    let current = schema;
    while (current.$ref) {
      const target = components.get(current.$ref.replace('#/components/schemas/', ''));
      if (!target) throw new Error(`unknown schema ${current.$ref}`);
      current = target;
    }
    return current;
  };

  const check = (value: unknown, raw: Schema, path: string, errors: string[]): void => {
    const schema = resolve(raw);
    for (const part of schema.allOf ?? []) check(value, part, path, errors);
    const alternatives = schema.oneOf ?? schema.anyOf;
    if (alternatives) {
      const results = alternatives.map((alt) => {
        const errs: string[] = [];
        check(value, alt, path, errs);
        return errs;
      });
      if (!results.some((errs) => errs.length === 0)) errors.push(...results[0]!);
      return;
    }
    if (value === null) return;
    if (schema['x-kubernetes-int-or-string']) {
      if (typeof value !== 'string' && !Number.isInteger(value)) errors.push(`${path}: must be an integer or a string`);
      return;
    }
    if (schema.enum && !schema.enum.includes(value)) errors.push(`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
    switch (schema.type) {
      case 'string':
        if (typeof value !== 'string') errors.push(`${path}: must be a string, not ${JSON.stringify(value)}`);
        return;
      case 'integer':
        if (!Number.isInteger(value)) errors.push(`${path}: must be an integer, not ${JSON.stringify(value)}`);
        return;
      case 'number':
        if (typeof value !== 'number') errors.push(`${path}: must be a number`);
        return;
      case 'boolean':
        if (typeof value !== 'boolean') errors.push(`${path}: must be a boolean, not ${JSON.stringify(value)}`);
        return;
      case 'array':
        if (!Array.isArray(value)) errors.push(`${path}: must be a list`);
        else if (schema.items) value.forEach((item, i) => check(item, schema.items!, `${path}[${i}]`, errors));
        return;
    }
    if (schema.type === 'object' || schema.properties || schema.additionalProperties !== undefined) {
      if (typeof value !== 'object' || Array.isArray(value)) {
        errors.push(`${path}: must be an object`);
        return;
      }
      const object = value as Record<string, unknown>;
      for (const key of schema.required ?? []) if (!(key in object)) errors.push(`${path}: missing required field ${key}`);
      for (const [key, item] of Object.entries(object)) {
        const property = schema.properties?.[key];
        if (property) check(item, property, `${path}.${key}`, errors);
        else if (typeof schema.additionalProperties === 'object') check(item, schema.additionalProperties, `${path}.${key}`, errors);
        else if (!schema['x-kubernetes-preserve-unknown-fields'] && schema.additionalProperties !== true) errors.push(`${path}: unknown field ${key}`);
      }
    }
  };

  return {
    kinds: () => [...roots.keys()],
    validate(manifest) {
      const id = gvk(String(manifest.apiVersion), String(manifest.kind));
      const root = roots.get(id);
      if (!root) return [`${id}: no such kind in Kubernetes or the known CRDs`];
      const errors: string[] = [];
      check(manifest, root, String(manifest.kind), errors);
      return errors;
    },
  };
}
