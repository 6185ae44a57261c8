import { SESSION_IDLE_MS } from '../auth/sessions.js';
import type { Clock } from '../clock.js';
import type { Db } from '../db/schema.js';
import { notFound } from '../errors.js';
import { type SessionView, sessionView } from './view.js';

/** A person's own sessions: listed by public id, ended one by one or all but the current one. */
export interface SessionOps {
  listSessions(userId: string, currentDigest: string): Promise<SessionView[]>;
  /** Ends one of the user's sessions (404 for an unknown id or another user's); whether it was the current one. */
  endSession(userId: string, publicId: string, currentDigest: string): Promise<{ wasCurrent: boolean }>;
  /** "Sign out everywhere else": how many sessions ended. */
  endOtherSessions(userId: string, currentDigest: string): Promise<number>;
}

export function createSessionOps({ db, clock }: { db: Db; clock: Clock }): SessionOps {
  return {
    async listSessions(userId, currentDigest) {
      const rows = await db
        .selectFrom('sessions')
        .select(['id_digest', 'public_id', 'created_at', 'last_seen_at', 'user_agent', 'ip'])
        .where('user_id', '=', userId)
        .where('last_seen_at', '>', clock() - SESSION_IDLE_MS)
        .orderBy('last_seen_at', 'desc')
        .orderBy('public_id')
        .execute();
      return rows.map((row) => sessionView(row, row.id_digest === currentDigest));
    },

    async endSession(userId, publicId, currentDigest) {
      const row = await db
        .deleteFrom('sessions')
        .where('public_id', '=', publicId)
        .where('user_id', '=', userId)
        .returning('id_digest')
        .executeTakeFirst();
      if (row === undefined) throw notFound('Session');
      return { wasCurrent: row.id_digest === currentDigest };
    },

    async endOtherSessions(userId, currentDigest) {
      const result = await db
        .deleteFrom('sessions')
        .where('user_id', '=', userId)
        .where('id_digest', '!=', currentDigest)
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
