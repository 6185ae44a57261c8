import { iso } from '../clock.js';
import type { InvitationsTable, Role } from '../db/schema.js';

/** An invitation as the API shows it: never its digest; its link only to Owners. */
export interface InvitationView {
  id: string;
  email: string;
  role: Role;
  status: InvitationsTable['status'];
  expires_at: string;
  invited_by: string;
  created_at: string;
  accept_url?: string;
}

export function invitationView(row: InvitationsTable, acceptUrl: string | null): InvitationView {
  const view: InvitationView = {
    id: row.id,
    email: row.email,
    role: row.role,
    status: row.status,
    expires_at: iso(row.expires_at),
    invited_by: row.invited_by,
    created_at: iso(row.created_at),
  };
  if (acceptUrl !== null) view.accept_url = acceptUrl;
  return view;
}
