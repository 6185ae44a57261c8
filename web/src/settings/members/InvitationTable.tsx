import type { Invitation } from '@tooken/client';
import type { MouseEvent } from 'react';
import { formatTime } from '../../tokens/format';
import { ROLE_NAMES } from '../roles';
import { CopyLink } from './CopyLink';

/** Pending invitations; an Owner gets each one's link (when the server gives it) and Revoke. */
export function InvitationTable(props: {
  invitations: Invitation[];
  timeZone: string;
  manage: boolean;
  onRevoke: (invitation: Invitation, event: MouseEvent<HTMLElement>) => void;
}) {
  const links = props.manage && props.invitations.some((i) => i.accept_url);
  return (
    <div className="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">Email</th>
            <th scope="col">Role</th>
            <th scope="col">Invited by</th>
            <th scope="col">Expires</th>
            {links ? <th scope="col">Link</th> : null}
            {props.manage ? (
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            ) : null}
          </tr>
        </thead>
        <tbody>
          {props.invitations.map((invitation) => (
            <tr key={invitation.id}>
              <td>
                <strong>{invitation.email}</strong>
              </td>
              <td>{ROLE_NAMES[invitation.role]}</td>
              <td>{invitation.invited_by}</td>
              <td>{formatTime(invitation.expires_at, props.timeZone)}</td>
              {links ? (
                <td>
                  {invitation.accept_url ? (
                    <CopyLink url={invitation.accept_url} email={invitation.email} />
                  ) : (
                    <span className="muted">—</span>
                  )}
                </td>
              ) : null}
              {props.manage ? (
                <td className="actions-cell">
                  <div className="row-actions">
                    <button
                      type="button"
                      className="button small ghost danger-text"
                      aria-label={`Revoke the invitation for ${invitation.email}`}
                      onClick={(event) => props.onRevoke(invitation, event)}
                    >
                      Revoke
                    </button>
                  </div>
                </td>
              ) : null}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
