import type { User } from '../auth/sessions.js';
import { iso } from '../clock.js';

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
