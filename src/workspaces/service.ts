import { type AuditService, diffFields, type RequestMeta } from '../audit/service.js';
import { newId } from '../auth/credentials.js';
import { isBuiltInScope } from '../auth/permissions.js';
import { actorOf, type Principal } from '../auth/principal.js';
import type { User } from '../auth/sessions.js';
import type { Clock } from '../clock.js';
import type { InvalidatingCache } from '../cluster/cache.js';
import { commitAndNotify, type Notifier } from '../cluster/notifier.js';
import { isUniqueViolation } from '../db/database.js';
import { decodeCustomScopes } from '../db/json.js';
import { countRows } from '../db/paginate.js';
import type { Db, Role, WorkspacesTable } from '../db/schema.js';
import { badField } from '../errors.js';
import { slugFromName, slugWithSuffix } from './slug.js';
import { canonicalTimezone } from './timezone.js';

export type Workspace = WorkspacesTable;

export interface SettingsPatch {
  name?: string;
  slug?: string;
  timezone?: string;
  default_token_expiration_days?: number | null;
  audit_log_retention_days?: number;
  custom_scopes?: string[];
  leak_policy?: 'revoke' | 'notify';
}

export interface Settings {
  id: string;
  name: string;
  slug: string;
  timezone: string;
  default_token_expiration_days: number | null;
  audit_log_retention_days: number;
  custom_scopes: string[];
  leak_policy: 'revoke' | 'notify';
  created_at: number;
}

export interface WorkspaceService {
  create(
    user: User,
    input: { name: string; slug?: string | undefined },
    meta: RequestMeta,
  ): Promise<Workspace>;
  listForUser(
    userId: string,
    page: number,
    perPage: number,
  ): Promise<{ rows: (Workspace & { role: Role })[]; total: number }>;
  bySlug(slug: string): Promise<Workspace | undefined>;
  byId(id: string): Promise<Workspace | undefined>;
  roleOf(workspaceId: string, userId: string): Promise<Role | null>;
  updateSettings(
    workspace: Workspace,
    principal: Principal,
    patch: SettingsPatch,
    meta: RequestMeta,
  ): Promise<Workspace>;
  remove(workspace: Workspace, confirm: string): Promise<void>;
}

export function settingsOf(ws: Workspace): Settings {
  return { ...ws, custom_scopes: decodeCustomScopes(ws.custom_scopes) };
}

export function createWorkspaceService({
  db,
  clock,
  audit,
  notifier,
  cache,
}: {
  db: Db;
  clock: Clock;
  audit: AuditService;
  notifier: Notifier;
  cache: InvalidatingCache<Workspace>;
}): WorkspaceService {
  const taken = async (slug: string) =>
    (await db.selectFrom('workspaces').select('id').where('slug', '=', slug).executeTakeFirst()) !==
    undefined;

  return {
    async create(user, input, meta) {
      const base = slugFromName(input.name);
      let n = 1;
      /** The next derived slug not taken yet (`acme`, `acme-2`, …), or null when none is left. */
      const nextFree = async (): Promise<string | null> => {
        for (; n < 1000; n++) {
          const candidate = n === 1 ? base : slugWithSuffix(base, n);
          if (!(await taken(candidate))) return candidate;
        }
        return null;
      };
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
      // A derived slug can be taken between the check and the insert by a concurrent creation:
      // then the next suffix is tried. Only an explicit slug is the caller's conflict (409).
      for (;;) {
        const slug = input.slug ?? (await nextFree());
        if (slug === null)
          throw badField('slug', 'No free slug is left for this name; choose one', 'conflict');
        try {
          return await insertWorkspace(slug);
        } catch (error) {
          if (!isUniqueViolation(error)) throw error;
          if (input.slug !== undefined) throw badField('slug', 'This slug is already taken', 'conflict');
          n++;
        }
      }
    },

    async listForUser(userId, page, perPage) {
      const base = db
        .selectFrom('members')
        .innerJoin('workspaces', 'workspaces.id', 'members.workspace_id')
        .where('members.user_id', '=', userId);
      const [rows, count] = await Promise.all([
        base
          .selectAll('workspaces')
          .select('members.role')
          .orderBy('workspaces.created_at', 'desc')
          .orderBy('workspaces.id', 'desc')
          .limit(perPage)
          .offset((page - 1) * perPage)
          .execute(),
        countRows(base),
      ]);
      return { rows, total: count };
    },

    bySlug: (slug) => db.selectFrom('workspaces').selectAll().where('slug', '=', slug).executeTakeFirst(),
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

    async updateSettings(workspace, principal, patch, meta) {
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
      const changes = diffFields(settingsOf(workspace) as unknown as Record<string, unknown>, next);
      if (changes === null) return workspace;
      const updated: Workspace = {
        ...workspace,
        ...(next as Partial<Workspace>),
        custom_scopes: JSON.stringify(next.custom_scopes ?? settingsOf(workspace).custom_scopes),
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
          return { result: stored, notices: [{ type: 'workspace.changed', ids: [workspace.id] }] };
        });
      } catch (error) {
        if (isUniqueViolation(error)) throw badField('slug', 'This slug is already taken', 'conflict');
        throw error;
      }
    },

    async remove(workspace, confirm) {
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
        const keys = await tx
          .selectFrom('api_keys')
          .select('digest')
          .where('workspace_id', '=', workspace.id)
          .execute();
        await tx.deleteFrom('workspaces').where('id', '=', workspace.id).execute();
        return {
          result: undefined,
          notices: [
            { type: 'token.changed', digests: secrets.map((row) => row.digest) },
            { type: 'credentials.changed', digests: keys.map((row) => row.digest) },
            { type: 'workspace.changed', ids: [workspace.id] },
          ],
        };
      });
    },
  };
}
