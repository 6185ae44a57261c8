import { type AuditService, diffFields, type RequestMeta } from '../audit/service.js';
import type { Workspace, WorkspaceContext } from '../auth/context.js';
import { isBuiltInScope } from '../auth/permissions.js';
import { actorOf } from '../auth/principal.js';
import type { User } from '../auth/sessions.js';
import type { Clock } from '../clock.js';
import type { InvalidatingCache } from '../cluster/cache.js';
import { commitAndNotify, type Notifier } from '../cluster/notifier.js';
import { isUniqueViolation } from '../db/database.js';
import { type PageOf, type PageRequest, paginate } from '../db/paginate.js';
import type { Db, Role } from '../db/schema.js';
import { AppError, badField } from '../errors.js';
import { newId } from '../ids.js';
import type { RateLimiter } from '../rate-limit/limiter.js';
import { type Settings, settingsOf } from './settings.js';
import { slugFromName, slugWithRandomSuffix } from './slug.js';
import { canonicalTimezone } from './timezone.js';
import { type SettingsView, settingsView, type WorkspaceView, workspaceView } from './view.js';

export interface SettingsPatch {
  name?: string;
  slug?: string;
  timezone?: string;
  default_token_expiration_days?: number | null;
  audit_log_retention_days?: number;
  custom_scopes?: string[];
  leak_policy?: 'revoke' | 'notify';
  require_two_factor?: boolean;
}

export interface WorkspaceService {
  create(
    user: User,
    input: { name: string; slug?: string | undefined },
    meta: RequestMeta,
  ): Promise<WorkspaceView>;
  listForUser(userId: string, page: PageRequest): Promise<PageOf<WorkspaceView>>;
  bySlug(slug: string): Promise<Workspace | undefined>;
  byId(id: string): Promise<Workspace | undefined>;
  /** `byId` from the cache only: undefined when it would need the database (the verify fast lane). */
  cachedById(id: string): Workspace | null | undefined;
  roleOf(workspaceId: string, userId: string): Promise<Role | null>;
  updateSettings(ctx: WorkspaceContext, patch: SettingsPatch, meta: RequestMeta): Promise<SettingsView>;
  remove(ctx: WorkspaceContext, confirm: string): Promise<void>;
}

/** New workspaces per user and minute (docs/workspaces.md#workspaces). */
export const WORKSPACES_PER_MINUTE = 10;
/** Slugs tried for a name: its own, then random suffixes (a clash of those is all but impossible). */
const SLUG_ATTEMPTS = 4;

export function createWorkspaceService({
  db,
  clock,
  audit,
  notifier,
  cache,
  rateLimiter,
}: {
  db: Db;
  clock: Clock;
  audit: AuditService;
  notifier: Notifier;
  cache: InvalidatingCache<Workspace>;
  /** Shared by every node, so the per-user limit holds across a cluster. */
  rateLimiter: RateLimiter;
}): WorkspaceService {
  /**
   * Whoever makes two-factor required must have it on: otherwise they would lock themselves out of
   * the workspace's dashboard with their own change.
   */
  const assertOwnTwoFactor = async (userId: string | null) => {
    const on =
      userId !== null &&
      (await db
        .selectFrom('two_factor')
        .select('user_id')
        .where('user_id', '=', userId)
        .where('confirmed_at', 'is not', null)
        .executeTakeFirst()) !== undefined;
    if (!on) {
      throw badField(
        'require_two_factor',
        'Turn two-factor on for your own account before requiring it of the members',
        'conflict',
      );
    }
  };

  const taken = async (slug: string) =>
    (await db.selectFrom('workspaces').select('id').where('slug', '=', slug).executeTakeFirst()) !==
    undefined;

  return {
    async create(user, input, meta) {
      // Each creation writes rows for good and no workspace budget covers it: bound it per person.
      const limit = await rateLimiter.hit(`workspace-create:${user.id}`, WORKSPACES_PER_MINUTE);
      if (!limit.allowed) {
        throw new AppError('rate_limited', 'Too many new workspaces; try again in a minute', {
          headers: { 'retry-after': String(limit.retryAfter) },
        });
      }
      const insertWorkspace = async (slug: string): Promise<Workspace> => {
        const workspace: Workspace = {
          id: newId('ws'),
          name: input.name,
          slug,
          timezone: 'UTC',
          default_token_expiration_days: 90,
          audit_log_retention_days: 90,
          custom_scopes: '[]',
          leak_policy: 'revoke',
          created_at: clock(),
        };
        await db.transaction().execute(async (tx) => {
          await tx.insertInto('workspaces').values(workspace).execute();
          await tx
            .insertInto('members')
            .values({
              workspace_id: workspace.id,
              user_id: user.id,
              role: 'owner',
              joined_at: workspace.created_at,
            })
            .execute();
          await audit.record(tx, {
            workspaceId: workspace.id,
            event: 'workspace.created',
            actor: { type: 'user', id: user.id, name: user.email },
            target: { type: 'workspace', id: workspace.id, name: workspace.name },
            meta,
          });
        });
        return workspace;
      };
      if (input.slug !== undefined) {
        try {
          return workspaceView(await insertWorkspace(input.slug), 'owner');
        } catch (error) {
          if (isUniqueViolation(error)) throw badField('slug', 'This slug is already taken', 'conflict');
          throw error;
        }
      }
      // The name's own slug when free (one look-up), else random suffixes, tried by inserting: a
      // concurrent creation taking a slug between look-up and insert only costs another attempt.
      const base = slugFromName(input.name);
      let slug = (await taken(base)) ? slugWithRandomSuffix(base) : base;
      for (let attempt = 1; ; attempt++) {
        try {
          return workspaceView(await insertWorkspace(slug), 'owner');
        } catch (error) {
          if (!isUniqueViolation(error)) throw error;
          if (attempt >= SLUG_ATTEMPTS) {
            throw badField('slug', 'No free slug was found for this name; choose one', 'conflict');
          }
          slug = slugWithRandomSuffix(base);
        }
      }
    },

    async listForUser(userId, page) {
      const found = await paginate(
        db
          .selectFrom('members')
          .innerJoin('workspaces', 'workspaces.id', 'members.workspace_id')
          .where('members.user_id', '=', userId),
        (q) =>
          q
            .selectAll('workspaces')
            .select('members.role')
            .orderBy('workspaces.created_at', 'desc')
            .orderBy('workspaces.id', 'desc'),
        page,
      );
      return { rows: found.rows.map((ws) => workspaceView(ws, ws.role)), total: found.total };
    },

    bySlug: (slug) => db.selectFrom('workspaces').selectAll().where('slug', '=', slug).executeTakeFirst(),
    cachedById: (id) => cache.get(id),

    /** The hot path's lookup (every bearer request): cached, invalidated by settings changes and deletion. */
    async byId(id) {
      const cached = cache.get(id);
      if (cached !== undefined) return cached ?? undefined;
      const generation = cache.generation();
      const row = await db.selectFrom('workspaces').selectAll().where('id', '=', id).executeTakeFirst();
      cache.set(id, row ?? null, generation);
      return row;
    },

    async roleOf(workspaceId, userId) {
      const row = await db
        .selectFrom('members')
        .select('role')
        .where('workspace_id', '=', workspaceId)
        .where('user_id', '=', userId)
        .executeTakeFirst();
      return row?.role ?? null;
    },

    async updateSettings(ctx, patch, meta) {
      const { workspace, principal } = ctx;
      const next: Partial<Settings> = { ...patch };
      if (patch.timezone !== undefined) {
        const zone = canonicalTimezone(patch.timezone);
        if (zone === null)
          throw badField('timezone', `Unknown IANA timezone "${patch.timezone}"`, 'unprocessable_entity');
        next.timezone = zone;
      }
      if (patch.custom_scopes !== undefined) {
        const builtIn = patch.custom_scopes.findIndex(isBuiltInScope);
        if (builtIn >= 0) {
          throw badField(
            `custom_scopes[${builtIn}]`,
            `"${patch.custom_scopes[builtIn]}" is a built-in scope`,
          );
        }
        next.custom_scopes = [...new Set(patch.custom_scopes)];
      }
      const current = settingsOf(workspace);
      const changes = diffFields(current, next);
      if (changes === null) return settingsView(workspace);
      if (patch.require_two_factor === true && !current.require_two_factor) {
        await assertOwnTwoFactor(ctx.userId);
      }
      const { custom_scopes, require_two_factor, ...plain } = next;
      const updated: Workspace = {
        ...workspace,
        ...plain,
        custom_scopes: JSON.stringify(custom_scopes ?? current.custom_scopes),
        require_two_factor: (require_two_factor ?? current.require_two_factor) ? 1 : 0,
      };
      // Only the changed columns are written, so a concurrent PATCH of other fields is not undone;
      // the response is the row as stored, with those other changes.
      const columns: Partial<Workspace> = Object.fromEntries(
        Object.keys(changes).map((field) => [field, updated[field as keyof Workspace]]),
      );
      try {
        return await commitAndNotify(db, notifier, async (tx) => {
          await tx.updateTable('workspaces').set(columns).where('id', '=', workspace.id).execute();
          await audit.record(tx, {
            workspaceId: workspace.id,
            event: 'workspace.settings_changed',
            actor: actorOf(principal),
            target: { type: 'workspace', id: workspace.id, name: updated.name },
            changes,
            meta,
          });
          const stored = await tx
            .selectFrom('workspaces')
            .selectAll()
            .where('id', '=', workspace.id)
            .executeTakeFirstOrThrow();
          return {
            result: settingsView(stored),
            notices: [{ type: 'workspace.changed', ids: [workspace.id] }],
          };
        });
      } catch (error) {
        if (isUniqueViolation(error)) throw badField('slug', 'This slug is already taken', 'conflict');
        throw error;
      }
    },

    async remove({ workspace }, confirm) {
      if (confirm !== workspace.slug) {
        throw badField('confirm', 'Type the workspace slug to confirm deletion');
      }
      // Everything in it goes with it (ON DELETE CASCADE); its tokens and keys leave every node's caches.
      await commitAndNotify(db, notifier, async (tx) => {
        const secrets = await tx
          .selectFrom('token_secrets')
          .innerJoin('tokens', 'tokens.id', 'token_secrets.token_id')
          .select('token_secrets.digest')
          .where('tokens.workspace_id', '=', workspace.id)
          .execute();
        const tokens = await tx
          .selectFrom('tokens')
          .select('id')
          .where('workspace_id', '=', workspace.id)
          .execute();
        const keys = await tx
          .selectFrom('api_keys')
          .select('digest')
          .where('workspace_id', '=', workspace.id)
          .execute();
        await tx.deleteFrom('workspaces').where('id', '=', workspace.id).execute();
        return {
          result: undefined,
          notices: [
            {
              type: 'token.changed',
              digests: secrets.map((row) => row.digest),
              workspaceId: workspace.id,
              tokenIds: tokens.map((row) => row.id),
            },
            { type: 'credentials.changed', digests: keys.map((row) => row.digest) },
            { type: 'workspace.changed', ids: [workspace.id] },
          ],
        };
      });
    },
  };
}
