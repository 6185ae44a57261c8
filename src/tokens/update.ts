import type { Changes, RequestMeta } from '../audit/service.js';
import type { WorkspaceContext } from '../auth/context.js';
import { type Clock, iso } from '../clock.js';
import { commitAndNotify, type Notifier } from '../cluster/notifier.js';
import { isUniqueViolation } from '../db/database.js';
import { decodeScopes } from '../db/json.js';
import type { Db, TokensTable } from '../db/schema.js';
import { AppError, badField } from '../errors.js';
import { settingsOf } from '../workspaces/settings.js';
import { type createTokenChanges, tokenChanged } from './changes.js';
import { assertNoEscalation, checkMetadata, checkScopes, expiringMarkers, parseExpiry } from './input.js';
import { type LimitsInput, limitColumns, limitsView } from './limits.js';
import { type TokenView, tokenView } from './view.js';

/** `PATCH /tokens/{id}`: every field optional; a field left out keeps its value. */
export interface UpdateTokenInput {
  name?: string | undefined;
  scopes?: string[] | undefined;
  metadata?: object | undefined;
  /** A future instant, or null for never. */
  expires_at?: string | null | undefined;
  external_id?: string | null | undefined;
  /** null removes both limits; within it, `uses` / `rate` left out keep theirs. */
  limits?: LimitsInput | null | undefined;
}

export interface TokenUpdate {
  update(ctx: WorkspaceContext, id: string, input: UpdateTokenInput, meta: RequestMeta): Promise<TokenView>;
}

/** A token caller cannot move any token's expiry past the end of its own secret. */
function assertExpiryWithin(ctx: WorkspaceContext, expiresAt: number | null): void {
  const limit = ctx.via === 'token' ? ctx.principal.validUntil : null;
  if (limit === null || (expiresAt !== null && expiresAt <= limit)) return;
  throw badField(
    'expires_at',
    `A token cannot make a token outlive it: expires_at must be ${iso(limit)} or earlier`,
    'forbidden',
  );
}

/** The changed fields as `{field: {from, to}}` in API form (a token's fields hold no secret). */
function changesOf(before: TokenView, after: TokenView): Changes {
  const changes: Changes = {};
  for (const field of [
    'name',
    'scopes',
    'metadata',
    'expires_at',
    'external_id',
    'limits',
    'status',
  ] as const) {
    if (JSON.stringify(before[field]) !== JSON.stringify(after[field])) {
      changes[field] = { from: before[field], to: after[field] };
    }
  }
  return changes;
}

/**
 * The new row of an update, validated as creation validates (docs/tokens.md#update): a token caller
 * may neither touch a token holding a scope it lacks nor give one, nor move expiry past its own.
 */
function updatedRow(
  ctx: WorkspaceContext,
  row: TokensTable,
  input: UpdateTokenInput,
  now: number,
): TokensTable {
  // The token as it is must be within the caller's power, and so must the token it becomes.
  assertNoEscalation(ctx, decodeScopes(row.scopes), 'grant');
  const scopes =
    input.scopes === undefined
      ? decodeScopes(row.scopes)
      : checkScopes(input.scopes, settingsOf(ctx.workspace).custom_scopes);
  assertNoEscalation(ctx, scopes, 'grant');
  const next: TokensTable = { ...row, scopes: JSON.stringify(scopes) };
  if (input.name !== undefined) {
    next.name = input.name;
    next.name_lower = input.name.toLowerCase();
  }
  if (input.metadata !== undefined) next.metadata = checkMetadata(input.metadata);
  if (input.expires_at !== undefined) {
    const expiresAt = input.expires_at === null ? null : parseExpiry(input.expires_at, now);
    assertExpiryWithin(ctx, expiresAt);
    if (expiresAt !== row.expires_at) {
      // A new expiry is announced afresh: its `token.expiring` and `token.expired` are still to come.
      Object.assign(next, {
        expires_at: expiresAt,
        expired_recorded_at: null,
        ...expiringMarkers(expiresAt, now),
      });
    }
  } else if (input.scopes !== undefined) {
    assertExpiryWithin(ctx, row.expires_at);
  }
  if (input.external_id !== undefined) next.external_id = input.external_id;
  Object.assign(next, limitColumns(input.limits, row, now));
  // Only a changed budget restarts the refill period; an unchanged one keeps its record.
  if (JSON.stringify(limitsView(next).uses?.refill) === JSON.stringify(limitsView(row).uses?.refill)) {
    next.uses_refill_period = row.uses_refill_period;
  }
  return next;
}

export function createTokenUpdate({
  db,
  clock,
  notifier,
  find,
  changes: { record, secretsOf },
}: {
  db: Db;
  clock: Clock;
  notifier: Notifier;
  find: (workspaceId: string, id: string) => Promise<TokensTable>;
  changes: ReturnType<typeof createTokenChanges>;
}): TokenUpdate {
  return {
    async update(ctx, id, input, meta) {
      const row = await find(ctx.workspace.id, id);
      if (row.revoked_at !== null) throw new AppError('conflict', 'A revoked token cannot be updated');
      const now = clock();
      const next = updatedRow(ctx, row, input, now);
      const before = tokenView(row, now);
      const after = tokenView(next, now);
      const changed = changesOf(before, after);
      if (Object.keys(changed).length === 0) return before;
      try {
        await commitAndNotify(db, notifier, async (tx) => {
          // Only the columns this update changes: a use taken or a last use recorded meanwhile stays.
          const fields = Object.fromEntries(
            Object.entries(next).filter(([column, value]) => row[column as keyof TokensTable] !== value),
          ) as Partial<TokensTable>;
          const updated = await tx
            .updateTable('tokens')
            .set(fields)
            .where('id', '=', row.id)
            .where('revoked_at', 'is', null)
            .executeTakeFirst();
          if (Number(updated.numUpdatedRows) === 0) {
            throw new AppError('conflict', 'The token was revoked, so it cannot be updated');
          }
          await record(tx, ctx, { event: 'token.updated', row: next, at: now, meta }, {}, changed);
          // Every node's verify cache drops the token, so its next verify sees the new answer.
          return {
            result: undefined,
            notices: [tokenChanged(row.workspace_id, [row.id], await secretsOf(tx, row.id))],
          };
        });
      } catch (error) {
        if (isUniqueViolation(error))
          throw badField('name', 'A token with this name already exists', 'conflict');
        throw error;
      }
      return after;
    },
  };
}
