import { Type } from 'typebox';
import { MAX_PAGE, Timestamp } from '../http/schemas.js';

const Instant = Type.String({ maxLength: 64 });

export const AuditQuery = Type.Object(
  {
    from: Type.Optional(Instant),
    to: Type.Optional(Instant),
    event: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 50 })),
    actor_id: Type.Optional(Type.String({ maxLength: 100 })),
    target_id: Type.Optional(Type.String({ maxLength: 100 })),
    page: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE })),
    per_page: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  },
  { additionalProperties: false },
);

export const ExportQuery = Type.Object(
  { from: Type.Optional(Instant), to: Type.Optional(Instant) },
  { additionalProperties: false },
);

const Nullable = (schema: ReturnType<typeof Type.String>) => Type.Union([schema, Type.Null()]);

export const AuditEntryBody = Type.Object(
  {
    id: Type.String(),
    event: Type.String(),
    created_at: Timestamp,
    created_at_local: Type.String(),
    actor: Type.Object({
      type: Type.String(),
      id: Nullable(Type.String()),
      name: Nullable(Type.String()),
      user_id: Type.Optional(Type.String()),
    }),
    target: Type.Union([
      Type.Object({ type: Nullable(Type.String()), id: Type.String(), name: Nullable(Type.String()) }),
      Type.Null(),
    ]),
    changes: Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()]),
    ip: Nullable(Type.String()),
    user_agent: Nullable(Type.String()),
    request_id: Nullable(Type.String()),
    hash: Type.String(),
    prev_hash: Type.String(),
  },
  { title: 'AuditEntry' },
);

export const AuditListBody = Type.Object(
  {
    data: Type.Array(AuditEntryBody),
    meta: Type.Object({
      page: Type.Optional(Type.Integer()),
      per_page: Type.Optional(Type.Integer()),
      total: Type.Optional(Type.Integer()),
      limit: Type.Optional(Type.Integer()),
      next_cursor: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    }),
  },
  { title: 'AuditEntryList' },
);

export const ChainReportBody = Type.Object(
  {
    ok: Type.Boolean(),
    checked: Type.Integer(),
    first_broken_id: Type.Optional(Type.String()),
  },
  { title: 'ChainReport' },
);
