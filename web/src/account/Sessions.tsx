import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { TookenClient } from '@tooken/client';
import { formErrors } from '../api/errors';
import { formatTime } from '../tokens/format';
import { ErrorState, FormError, Loading } from '../ui/states';
import { SESSIONS_KEY } from './account-client';

/** Sessions belong to the person, not to a workspace: their times are in the browser's own timezone. */
const BROWSER_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone;
const when = (iso: string) => formatTime(iso, BROWSER_ZONE);

/** The account's live sessions, with Sign out for each other one and for all of them at once. */
export function Sessions({ client }: { client: TookenClient }) {
  const queryClient = useQueryClient();
  const sessions = useQuery({ queryKey: SESSIONS_KEY, queryFn: () => client.me.sessions.list() });
  const refresh = () => queryClient.invalidateQueries({ queryKey: SESSIONS_KEY });
  const end = useMutation({ mutationFn: (id: string) => client.me.sessions.end(id), onSettled: refresh });
  const endOthers = useMutation({ mutationFn: () => client.me.sessions.endOthers(), onSettled: refresh });

  if (sessions.isPending) return <Loading label="Loading sessions…" />;
  if (sessions.isError) return <ErrorState error={sessions.error} retry={() => sessions.refetch()} />;
  const rows = sessions.data.data;
  const others = rows.filter((s) => !s.current).length;
  const error = end.error ?? endOthers.error;
  return (
    <div className="stack">
      <FormError message={error ? formErrors(error, []).form : null} />
      <div className="table-wrap">
        <table className="table">
          <thead>
            <tr>
              <th scope="col">Device</th>
              <th scope="col">IP address</th>
              <th scope="col">Signed in</th>
              <th scope="col">Last seen</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((s) => (
              <tr key={s.id}>
                <td>
                  {s.user_agent ?? 'Unknown'}
                  {s.current ? (
                    <>
                      {' '}
                      <span className="badge active">This session</span>
                    </>
                  ) : null}
                </td>
                <td className="mono">{s.ip ?? '—'}</td>
                <td className="nowrap">{when(s.created_at)}</td>
                <td className="nowrap">{when(s.last_seen_at)}</td>
                <td>
                  {s.current ? null : (
                    <button
                      type="button"
                      className="button small"
                      aria-label={`Sign out the session signed in ${when(s.created_at)}`}
                      onClick={() => end.mutate(s.id)}
                      disabled={end.isPending}
                    >
                      Sign out
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div className="actions">
        <p className="hint" role="status" aria-live="polite">
          {others === 0 ? 'No other session is signed in.' : ''}
        </p>
        <button
          type="button"
          className="button danger"
          onClick={() => endOthers.mutate()}
          disabled={others === 0 || endOthers.isPending}
        >
          Sign out everywhere else
        </button>
      </div>
    </div>
  );
}
