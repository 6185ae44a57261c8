import { iso } from '../clock.js';
import type { Role } from '../db/schema.js';

/** A member as the API shows it. */
export interface MemberView {
  user_id: string;
  email: string;
  name: string | null;
  role: Role;
  joined_at: string;
}

export function memberView(row: Omit<MemberView, 'joined_at'> & { joined_at: number }): MemberView {
  return { ...row, joined_at: iso(row.joined_at) };
}
