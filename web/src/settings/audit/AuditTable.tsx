import type { AuditEntry } from '@tooken/client';
import { formatInstant } from './time';

/** Who acted, as people read it: the name, and what kind of actor when it is not a person. */
function actorOf(entry: AuditEntry): string {
  const { actor } = entry;
  if (actor.type === 'system') return 'System';
  const name = actor.name ?? actor.id ?? 'Unknown';
  if (actor.type === 'api_key') return `${name} (API key)`;
  if (actor.type === 'token') return `${name} (token)`;
  return name;
}

function targetOf(entry: AuditEntry): string {
  if (entry.target === null) return '—';
  return entry.target.name ?? entry.target.id;
}

/** The fields an entry changed, by name (`timezone, name`). */
function changesOf(entry: AuditEntry): string {
  return entry.changes ? Object.keys(entry.changes).join(', ') : '';
}

export function AuditTable({ entries, timeZone }: { entries: AuditEntry[]; timeZone: string }) {
  return (
    <div className="table-wrap">
      <table aria-label="Audit log">
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Event</th>
            <th scope="col">Actor</th>
            <th scope="col">Target</th>
            <th scope="col">IP address</th>
          </tr>
        </thead>
        <tbody>
          {entries.map((entry) => (
            <tr key={entry.id} data-entry={entry.id}>
              <td className="nowrap">
                <time dateTime={entry.created_at} title={entry.created_at}>
                  {formatInstant(entry.created_at, timeZone)}
                </time>
              </td>
              <td>
                <code>{entry.event}</code>
                {changesOf(entry) ? <span className="hint block">Changed {changesOf(entry)}</span> : null}
              </td>
              <td>{actorOf(entry)}</td>
              <td>
                {targetOf(entry)}
                {entry.target?.type ? <span className="hint block">{entry.target.type}</span> : null}
              </td>
              <td className="mono-cell">{entry.ip ?? '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
