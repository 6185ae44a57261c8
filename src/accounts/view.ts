import type { User } from '../auth/sessions.js';
import { iso } from '../clock.js';
import type { SessionsTable } from '../db/schema.js';

/** A person as the API shows them: never a password hash. */
export interface UserView {
  id: string;
  email: string;
  name: string | null;
  created_at: string;
}

export function userView(user: User): UserView {
  return { id: user.id, email: user.email, name: user.name, created_at: iso(user.created_at) };
}

/** A session as its owner sees it: the public id, never the secret or its digest. */
export interface SessionView {
  id: string;
  created_at: string;
  last_seen_at: string;
  user_agent: string | null;
  ip: string | null;
  current: boolean;
}

export function sessionView(
  row: Pick<SessionsTable, 'public_id' | 'created_at' | 'last_seen_at' | 'user_agent' | 'ip'>,
  current: boolean,
): SessionView {
  return {
    id: row.public_id,
    created_at: iso(row.created_at),
    last_seen_at: iso(row.last_seen_at),
    user_agent: row.user_agent,
    ip: row.ip,
    current,
  };
}
