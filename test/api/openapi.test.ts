import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type Json, json, type TestApp } from '../helpers.js';

/** The OpenAPI document as code generators read it: every parameter belongs to its path. */
describe('the OpenAPI document', () => {
  let t: TestApp;
  let doc: Json;

  beforeAll(async () => {
    t = await createTestApp('sqlite');
    doc = json(await t.app.inject({ method: 'GET', url: '/openapi.json' }));
  });
  afterAll(() => t.close());

  const operations = () =>
    Object.entries(doc.paths as Record<string, Record<string, Json>>).flatMap(([path, item]) =>
      Object.entries(item).map(([method, operation]) => ({ path, method, operation })),
    );

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
