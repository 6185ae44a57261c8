import type { ApiKey } from '@tooken/client';
import type { MouseEvent } from 'react';
import { formatTime } from '../../tokens/format';
import { ROLE_NAMES } from '../roles';

/** What the signed-in person may do to one key (the server decides again). */
export interface KeyRights {
  regenerate: boolean;
  remove: boolean;
}

/** The API keys: name (with the secret's hint), kind, created, last used, and the allowed actions. */
export function ApiKeyTable(props: {
  keys: ApiKey[];
  timeZone: string;
  userId: string;
  /** Emails by user id, to name another member's personal key (Owners see those). */
  emails: Record<string, string>;
  rights: (key: ApiKey) => KeyRights;
  onRegenerate: (key: ApiKey, event: MouseEvent<HTMLElement>) => void;
  onDelete: (key: ApiKey, event: MouseEvent<HTMLElement>) => void;
}) {
  return (
    <div className="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Kind</th>
            <th scope="col">Created</th>
            <th scope="col">Last used</th>
            <th scope="col">
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {props.keys.map((key) => {
            const rights = props.rights(key);
            return (
              <tr key={key.id}>
                <td>
                  <strong>{key.name}</strong>
                  <div className="hint mono">{key.hint}</div>
                </td>
                <td>
                  <KindCell apiKey={key} userId={props.userId} emails={props.emails} />
                </td>
                <td>
                  {formatTime(key.created_at, props.timeZone)}
                  <div className="hint">by {key.created_by}</div>
                </td>
                <td>{formatTime(key.last_used_at, props.timeZone, 'Never')}</td>
                <td className="actions-cell">
                  <div className="row-actions">
                    {rights.regenerate ? (
                      <button
                        type="button"
                        className="button small"
                        aria-label={`Regenerate ${key.name}`}
                        onClick={(event) => props.onRegenerate(key, event)}
                      >
                        Regenerate
                      </button>
                    ) : null}
                    {rights.remove ? (
                      <button
                        type="button"
                        className="button small ghost danger-text"
                        aria-label={`Delete ${key.name}`}
                        onClick={(event) => props.onDelete(key, event)}
                      >
                        Delete
                      </button>
                    ) : null}
                  </div>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function KindCell({
  apiKey,
  userId,
  emails,
}: {
  apiKey: ApiKey;
  userId: string;
  emails: Record<string, string>;
}) {
  if (apiKey.kind === 'team') {
    return (
      <>
        <span className="badge kind">Team</span>
        <div className="hint">{ROLE_NAMES[apiKey.role]} role</div>
      </>
    );
  }
  const whose =
    apiKey.user_id === userId
      ? 'Yours'
      : apiKey.user_id !== null
        ? (emails[apiKey.user_id] ?? 'Another member')
        : 'Another member';
  return (
    <>
      <span className="badge neutral">Personal</span>
      <div className="hint">{whose}</div>
    </>
  );
}
