import type { Member } from '@tooken/client';
import type { MouseEvent } from 'react';
import type { Role } from '../../api/session';
import { formatTime } from '../../tokens/format';
import { ROLE_NAMES, ROLES } from '../roles';

/**
 * The members with their roles. For an Owner, each role is a dropdown (a change is saved at once)
 * and each row has Remove; others read the roles.
 */
export function MemberTable(props: {
  members: Member[];
  timeZone: string;
  userId: string;
  manage: boolean;
  /** The member whose role change is on its way (its dropdown waits). */
  changing: string | null;
  onRole: (member: Member, role: Role) => void;
  onRemove: (member: Member, event: MouseEvent<HTMLElement>) => void;
}) {
  return (
    <div className="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">Member</th>
            <th scope="col">Role</th>
            <th scope="col">Joined</th>
            {props.manage ? (
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            ) : null}
          </tr>
        </thead>
        <tbody>
          {props.members.map((member) => (
            <tr key={member.user_id}>
              <td>
                <strong>{member.name ?? member.email}</strong>
                {member.user_id === props.userId ? <span className="badge neutral you">You</span> : null}
                {member.name ? <div className="hint">{member.email}</div> : null}
              </td>
              <td>
                {props.manage ? (
                  <select
                    className="select inline-select"
                    aria-label={`Role of ${member.email}`}
                    value={member.role}
                    disabled={props.changing === member.user_id}
                    onChange={(event) => props.onRole(member, event.target.value as Role)}
                  >
                    {ROLES.map((r) => (
                      <option key={r} value={r}>
                        {ROLE_NAMES[r]}
                      </option>
                    ))}
                  </select>
                ) : (
                  ROLE_NAMES[member.role]
                )}
              </td>
              <td>{formatTime(member.joined_at, props.timeZone)}</td>
              {props.manage ? (
                <td className="actions-cell">
                  <div className="row-actions">
                    <button
                      type="button"
                      className="button small ghost danger-text"
                      aria-label={`Remove ${member.email}`}
                      onClick={(event) => props.onRemove(member, event)}
                    >
                      Remove
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
