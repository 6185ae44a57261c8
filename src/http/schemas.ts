import { type TSchema, Type } from 'typebox';

/** Schemas shared by every feature: errors, lists, timestamps. */

export const ErrorBody = Type.Object(
  {
    error: Type.String(),
    message: Type.String(),
    status: Type.Integer(),
    request_id: Type.String(),
    details: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() }))),
  },
  { $id: 'Error' },
);

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

export const PageMeta = Type.Object({
  page: Type.Integer(),
  per_page: Type.Integer(),
  total: Type.Integer(),
});

export function listOf<T extends TSchema>(item: T) {
  return Type.Object({ data: Type.Array(item), meta: PageMeta });
}

export const Timestamp = Type.String({ format: 'date-time' });
export const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);

export const SlugParams = Type.Object({ slug: Type.Optional(Type.String({ maxLength: 200 })) });

/** Standard error responses for the OpenAPI document. */
export function errors(...statuses: number[]): Record<number, typeof ErrorBody> {
  return Object.fromEntries(statuses.map((s) => [s, ErrorBody]));
}

/** A workspace resource is reachable as `/v1/x` and as `/v1/workspaces/{slug}/x` (SPEC §2.2). */
export function bothPaths(path: string): [string, string] {
  return [`/v1${path}`, `/v1/workspaces/:slug${path}`];
}

export const NoContent = Type.Null({ description: 'No content' });
