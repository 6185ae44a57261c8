import { InvitationsCard } from './members/InvitationsCard';
import { MembersCard } from './members/MembersCard';
import './settings-tabs.css';

/**
 * The Members tab of Settings: members with their roles, and pending invitations. Everyone reads
 * them; Owners invite, change roles, remove members and revoke invitations.
 */
export function MembersTab() {
  return (
    <div className="stack">
      <MembersCard />
      <InvitationsCard />
    </div>
  );
}
