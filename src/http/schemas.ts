import { type TObject, type TProperties, type TSchema, Type } from 'typebox';

/** Schemas and helpers shared by every feature's routes: errors, lists, roles, path parameters. */

export const ErrorBody = Type.Object(
  {
    error: Type.String(),
    message: Type.String(),
    status: Type.Integer(),
    request_id: Type.String(),
    details: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() }))),
  },
  { title: 'Error' },
);

/** Standard error responses for the OpenAPI document. */
export function errors(...statuses: number[]): Record<number, typeof ErrorBody> {
  return Object.fromEntries(statuses.map((s) => [s, ErrorBody]));
}

export const NoContent = Type.Null({ description: 'No content' });

export const Timestamp = Type.String({ format: 'date-time' });
export const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);

/**
 * Text people read as a label must read as what it is: the bidirectional embedding, override and
 * isolate controls (U+202A–U+202E, U+2066–U+2069) make a name display as another ("invoice" + U+202E +
 * "fdp.exe" shows as "invoiceexe.pdf"), so they are refused in every display name (docs/api.md#display-names).
 */
export const NO_BIDI_CONTROLS = '^[^\\u202A-\\u202E\\u2066-\\u2069]*$';

/** A display text of at most `maxLength` characters (a description may be empty). */
export function displayText({ minLength = 0, maxLength }: { minLength?: number; maxLength: number }) {
  return Type.String({ minLength, maxLength, pattern: NO_BIDI_CONTROLS });
}

/** The name of a token, an API key, a workspace or a person: 1–100 characters. */
export const Name = displayText({ minLength: 1, maxLength: 100 });

export const RoleSchema = Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('viewer')]);

/** A resource id in a path (`tok_…`, `usr_…`): bounded so a pasted secret cannot be long. */
export const IdParam = Type.String({ maxLength: 100 });

/**
 * Every workspace resource is reachable as `/v1/x` (the workspace of the bearer credential) and as
 * `/v1/workspaces/{slug}/x` (any credential; dashboard sessions always). A feature plugin is
 * registered once under each prefix.
 */
export const WORKSPACE_PREFIXES = ['/v1', '/v1/workspaces/:slug'] as const;
export type WorkspacePrefix = (typeof WORKSPACE_PREFIXES)[number];

const SlugParam = Type.String({ maxLength: 200 });

/** The path parameters of a route under `prefix`: `slug` exactly when the prefix has it. */
export function paramsFor<P extends TProperties>(
  prefix: WorkspacePrefix,
  props: P,
): TObject<P> | TObject<P & { slug: typeof SlugParam }> {
  return prefix === '/v1' ? Type.Object(props) : Type.Object({ ...props, slug: SlugParam });
}

/**
 * The highest page whose offset, `(page - 1) * per_page`, is still an exact integer for every
 * per_page: beyond it the database would be handed an out-of-range offset (a 500), so it is a 400.
 */
export const MAX_PAGE = Math.floor(Number.MAX_SAFE_INTEGER / 100);

export const PageQuery = Type.Object(
  {
    page: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE, default: 1 })),
    per_page: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 25 })),
  },
  { additionalProperties: false },
);

export const PageMeta = Type.Object(
  {
    page: Type.Integer(),
    per_page: Type.Integer(),
    total: Type.Integer(),
  },
  { title: 'PageMeta' },
);

/** A page of a list; named after its item (`TokenList`) in the OpenAPI document. */
export function listOf<T extends TSchema>(item: T) {
  const title = 'title' in item && typeof item.title === 'string' ? `${item.title}List` : undefined;
  return Type.Object({ data: Type.Array(item), meta: PageMeta }, title === undefined ? {} : { title });
}

/**
 * An operation's stable name and one-line summary for the OpenAPI document. Under the long prefix
 * the same operation gets its own id (`tokens.create.inWorkspace`), as operation ids are unique.
 */
export function operation(prefix: WorkspacePrefix, id: string, summary: string) {
  return { operationId: prefix === '/v1' ? id : `${id}.inWorkspace`, summary };
}
