import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type Json, json, type TestApp } from '../helpers.js';

let t: TestApp;
let doc: Json;

beforeAll(async () => {
  t = await createTestApp('sqlite');
  doc = json(await t.app.inject({ method: 'GET', url: '/openapi.json' }));
});
afterAll(() => t.close());

/** Every operation of the live document, with its path and method. */
const operations = () =>
  Object.entries(doc.paths as Record<string, Record<string, Json>>).flatMap(([path, item]) =>
    Object.entries(item).map(([method, operation]) => ({
      path,
      method,
      name: `${method} ${path}`,
      operation,
    })),
  );

/** The OpenAPI document as code generators read it: every parameter belongs to its path. */
describe('the OpenAPI document', () => {
  it('declares exactly the path parameters its path has, and no other', () => {
    const mismatched: string[] = [];
    for (const { path, method, operation } of operations()) {
      const inPath = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
      const declared = ((operation.parameters ?? []) as Json[])
        .filter((p) => p.in === 'path')
        .map((p) => p.name as string)
        .sort();
      if (JSON.stringify(inPath) !== JSON.stringify(declared)) {
        mismatched.push(`${method.toUpperCase()} ${path}: path has [${inPath}], declared [${declared}]`);
      }
    }
    expect(mismatched).toEqual([]);
  });

  it('offers every workspace operation under both paths: the credential’s workspace and a named one', () => {
    const short = operations()
      .filter(({ path }) => path.startsWith('/v1/') && !path.startsWith('/v1/workspaces/'))
      .map(({ path, method }) => `${method} ${path.slice('/v1'.length)}`);
    const long = operations()
      .filter(({ path }) => path.startsWith('/v1/workspaces/{slug}/'))
      .map(({ path, method }) => `${method} ${path.slice('/v1/workspaces/{slug}'.length)}`);
    expect(long.length).toBeGreaterThan(20);
    for (const operation of long) expect(short).toContain(operation);
    expect(doc.paths['/v1/tokens/verify'].post.parameters ?? []).toEqual([]);
  });
});

describe('the OpenAPI document for code generators', () => {
  it('names, summarises and tags every operation, with unique ids', () => {
    const ids = operations().map(({ operation }) => operation.operationId);
    expect(operations().filter(({ operation }) => !operation.summary || !operation.tags?.length)).toEqual([]);
    expect(ids.every((id) => typeof id === 'string')).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toContain('tokens.verify');
    expect(ids).toContain('tokens.create.inWorkspace');
  });

  it('refers every JSON body to a named schema and every error to the one Error schema', () => {
    const inline: string[] = [];
    for (const { name, operation } of operations()) {
      const request = operation.requestBody?.content?.['application/json']?.schema;
      if (request !== undefined && request.$ref === undefined) inline.push(`${name} request`);
      for (const [status, response] of Object.entries(operation.responses as Record<string, Json>)) {
        const schema = response.content?.['application/json']?.schema;
        if (Number(status) >= 400) {
          if (schema?.$ref !== '#/components/schemas/Error') inline.push(`${name} ${status}`);
        } else if (schema !== undefined && schema.$ref === undefined && schema.type !== 'null') {
          inline.push(`${name} ${status}`);
        }
        if (!response.description || response.description === 'Default Response') {
          inline.push(`${name} ${status} description`);
        }
      }
    }
    expect(inline).toEqual([]);
    expect(Object.keys(doc.components.schemas)).toEqual(
      expect.arrayContaining(['Error', 'Token', 'TokenWithSecret', 'VerifyResult', 'TokenList', 'PageMeta']),
    );
  });

  it('asks no credential for sign-up, sign-in and health, and only a session for session routes', () => {
    const byId = Object.fromEntries(operations().map(({ operation }) => [operation.operationId, operation]));
    for (const id of ['accounts.signup', 'accounts.login', 'health.live', 'health.ready']) {
      expect(byId[id]?.security).toEqual([]);
    }
    expect(byId['workspaces.create']?.security).toEqual([{ session: [] }]);
    expect(byId['tokens.create']?.security).toBeUndefined(); // the document default: bearer or session
    expect(doc.security).toEqual([{ bearer: [] }, { session: [] }]);
    expect(doc.servers[0].url).toMatch(/^https?:\/\//);
  });

  it('declares the audit export as CSV, not JSON', () => {
    const content = doc.paths['/v1/audit-logs/export'].get.responses['200'].content;
    expect(Object.keys(content)).toEqual(['text/csv']);
  });
});
