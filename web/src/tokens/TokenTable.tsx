import type { Token } from '@tooken/client';
import { formatTime } from './format';
import { Scopes, StatusBadge } from './StatusBadge';

export function TokenTable(props: { tokens: Token[]; timeZone: string; onOpen: (token: Token) => void }) {
  return (
    <div className="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Scopes</th>
            <th scope="col">Status</th>
            <th scope="col">Created</th>
            <th scope="col">Expires</th>
            <th scope="col">Last used</th>
          </tr>
        </thead>
        <tbody>
          {props.tokens.map((token) => (
            <tr key={token.id}>
              <td>
                <button type="button" className="link-button" onClick={() => props.onOpen(token)}>
                  {token.name}
                </button>
              </td>
              <td>
                <Scopes scopes={token.scopes} />
              </td>
              <td>
                <StatusBadge status={token.status} />
              </td>
              <td>{formatTime(token.created_at, props.timeZone)}</td>
              <td>{formatTime(token.expires_at, props.timeZone, 'Never')}</td>
              <td>{formatTime(token.last_used_at, props.timeZone, 'Never')}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
