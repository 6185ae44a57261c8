import { Type } from 'typebox';
import { Name, RoleSchema, Timestamp } from '../http/schemas.js';
import { SLUG_PATTERN } from './slug.js';

export const CUSTOM_SCOPE_PATTERN = '^[a-z][a-z0-9_-]*(:[a-z0-9_*-]+)+$';

const Slug = Type.String({ pattern: SLUG_PATTERN, maxLength: 48 });
const LeakPolicy = Type.Union([Type.Literal('revoke'), Type.Literal('notify')]);

export const CreateWorkspaceBody = Type.Object(
  { name: Name, slug: Type.Optional(Slug) },
  { additionalProperties: false, title: 'CreateWorkspaceRequest', examples: [{ name: 'Acme Production' }] },
);

export const WorkspaceBody = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    slug: Type.String(),
    role: RoleSchema,
    created_at: Timestamp,
  },
  { title: 'Workspace' },
);

export const SettingsBody = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    slug: Type.String(),
    timezone: Type.String(),
    default_token_expiration_days: Type.Union([Type.Integer(), Type.Null()]),
    audit_log_retention_days: Type.Integer(),
    custom_scopes: Type.Array(Type.String()),
    leak_policy: LeakPolicy,
    require_two_factor: Type.Boolean(),
    created_at: Timestamp,
  },
  { title: 'Settings' },
);

export const SettingsPatchBody = Type.Object(
  {
    name: Type.Optional(Name),
    slug: Type.Optional(Slug),
    timezone: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    default_token_expiration_days: Type.Optional(
      Type.Union([Type.Integer({ minimum: 1, maximum: 365 }), Type.Null()]),
    ),
    audit_log_retention_days: Type.Optional(Type.Integer({ minimum: 1, maximum: 365 })),
    custom_scopes: Type.Optional(
      Type.Array(Type.String({ pattern: CUSTOM_SCOPE_PATTERN, maxLength: 100 }), { maxItems: 200 }),
    ),
    leak_policy: Type.Optional(LeakPolicy),
    require_two_factor: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, title: 'UpdateSettingsRequest' },
);

export const DeleteWorkspaceBody = Type.Object(
  { confirm: Type.String({ maxLength: 100 }) },
  { additionalProperties: false, title: 'DeleteWorkspaceRequest' },
);
