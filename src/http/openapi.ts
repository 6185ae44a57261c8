import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger';

/** The document behind `/openapi.json`: what code generators and linters read. */

const TAGS = [
  ['accounts', 'People: sign-up, sign-in and their dashboard session'],
  ['workspaces', 'Workspaces a person belongs to'],
  ['settings', 'A workspace’s settings'],
  ['tokens', 'Tokens issued to services: create, verify, rotate, revoke'],
  ['api-keys', 'Personal and team API keys for the management API'],
  ['members', 'Members of a workspace and their roles'],
  ['invitations', 'Invitations to join a workspace'],
  ['audit', 'The tamper-evident audit log'],
  ['webhooks', 'Webhook endpoints and their deliveries'],
  ['operations', 'Health and readiness for load balancers'],
] as const;

/** What a response of each status means, where a route does not say more. */
const STATUS_TEXT: Record<string, string> = {
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  204: 'No content',
  400: 'The request is malformed or fails validation (`bad_request`)',
  401: 'No valid credential (`unauthorized`)',
  403: 'The credential may not do this (`forbidden`)',
  404: 'No such object in this workspace (`not_found`)',
  409: 'The request conflicts with the current state (`conflict`)',
  413: 'The body is larger than 1 MiB (`payload_too_large`)',
  422: 'A value passes the schema but cannot be honoured (`unprocessable_entity`)',
  429: 'The workspace’s budget is spent; retry after `Retry-After` (`rate_limited`)',
  500: 'Something went wrong on the server (`internal_error`)',
  503: 'The database cannot be reached; retry after `Retry-After` (`unavailable`)',
};

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Every schema with a `title` becomes a named component (`#/components/schemas/<title>`) and is
 * referenced where it was inlined, so generated clients get one type per concept. Titles are
 * annotations only: validation and serialisation never see a `$ref`.
 */
function hoistTitled(node: unknown, components: Json): unknown {
  if (Array.isArray(node)) return node.map((item) => hoistTitled(item, components));
  if (!isObject(node)) return node;
  const copy: Json = {};
  for (const [key, value] of Object.entries(node)) copy[key] = hoistTitled(value, components);
  const title = copy.title;
  if (typeof title !== 'string') return copy;
  const { title: _title, $id: _id, ...schema } = copy;
  const known = components[title];
  if (known !== undefined && JSON.stringify(known) !== JSON.stringify(schema)) {
    throw new Error(`Two different schemas are titled ${title}`);
  }
  components[title] = schema;
  return { $ref: `#/components/schemas/${title}` };
}

/** Responses without a description get the meaning of their status. */
function describeResponses(paths: Json): void {
  for (const item of Object.values(paths)) {
    if (!isObject(item)) continue;
    for (const operation of Object.values(item)) {
      if (!isObject(operation) || !isObject(operation.responses)) continue;
      for (const [status, response] of Object.entries(operation.responses)) {
        if (isObject(response) && (response.description ?? 'Default Response') === 'Default Response') {
          response.description = STATUS_TEXT[status] ?? 'Response';
        }
      }
    }
  }
}

export function openapiOptions(publicUrl: string): FastifyDynamicSwaggerOptions {
  return {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Tooken API',
        version: '1',
        description:
          'Issue, verify, revoke and audit bearer credentials. Every workspace operation exists twice: ' +
          '`/v1/…` acts in the workspace of the bearer credential, `/v1/workspaces/{slug}/…` names it ' +
          '(dashboard sessions always name it).',
        license: { name: 'MIT', identifier: 'MIT' },
      },
      servers: [{ url: publicUrl, description: 'This Tooken server' }],
      tags: TAGS.map(([name, description]) => ({ name, description })),
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            description: 'An API key (tok_live_…) or a token (tkn_…)',
          },
          session: {
            type: 'apiKey',
            in: 'cookie',
            name: 'tooken_session',
            description: 'A dashboard session; unsafe methods also need the X-CSRF-Token header',
          },
        },
      },
      security: [{ bearer: [] }, { session: [] }],
    },
    transformObject: (documentObject) => {
      const document = (
        'openapiObject' in documentObject ? documentObject.openapiObject : documentObject.swaggerObject
      ) as Json;
      const components: Json = {};
      const paths = hoistTitled(document.paths ?? {}, components) as Json;
      describeResponses(paths);
      const existing = isObject(document.components) ? document.components : {};
      const schemas = isObject(existing.schemas) ? existing.schemas : {};
      return {
        ...document,
        paths,
        components: { ...existing, schemas: { ...schemas, ...components } },
      } as never;
    },
  };
}
