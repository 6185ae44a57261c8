import openapiTS, { astToString } from 'openapi-typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers.js';

const HEADER =
  '// Generated from the server’s /openapi.json by openapi-typescript. Do not edit by hand:\n' +
  '// `npx vitest run test/api/client-types.test.ts -u` rewrites it after an API change.\n\n';

/**
 * The client's types are generated from the live document and committed; this fails when they
 * differ, so the client can never drift from the API it calls.
 */
describe('the @tooken/client types', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp('sqlite');
  });
  afterAll(() => t.close());

  it('match the types generated from the running server’s /openapi.json', async () => {
    const document = JSON.parse((await t.app.inject({ method: 'GET', url: '/openapi.json' })).body);
    const generated = HEADER + astToString(await openapiTS(document, { alphabetize: true }));
    await expect(generated).toMatchFileSnapshot('../../packages/client/src/openapi.ts');
  });
});
