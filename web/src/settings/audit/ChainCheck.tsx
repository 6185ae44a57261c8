import { useQuery } from '@tanstack/react-query';
import { useWorkspace } from '../../layout/workspace';
import { ErrorState, Loading } from '../../ui/states';

/**
 * The hash chain check (Owners only): every retained entry hashes to its own `hash` and links to
 * the one before. Checked when the tab opens, and again on demand.
 */
export function ChainCheck() {
  const { client, workspace } = useWorkspace();
  const check = useQuery({
    queryKey: ['audit', workspace.slug, 'verify'],
    queryFn: () => client.audit.verify(),
    staleTime: 0,
  });
  return (
    <section className="card" aria-labelledby="chain-title">
      <div className="card-header">
        <div>
          <h2 id="chain-title">Chain verification</h2>
          <p className="hint">
            Each entry carries a hash of the one before it, so an entry changed or removed outside Tooken
            breaks the chain.
          </p>
        </div>
        <button
          type="button"
          className="button small"
          disabled={check.isFetching}
          onClick={() => check.refetch()}
        >
          Verify again
        </button>
      </div>
      {check.isPending ? (
        <Loading label="Verifying the chain…" />
      ) : check.isError ? (
        <ErrorState error={check.error} retry={() => check.refetch()} />
      ) : (
        <div className="card-body" role="status" aria-live="polite">
          {check.data.ok ? (
            <div className="alert success">
              Chain intact: {check.data.checked} {check.data.checked === 1 ? 'entry' : 'entries'} checked.
            </div>
          ) : (
            <div className="alert error">
              Chain broken at entry <code>{check.data.first_broken_id}</code> ({check.data.checked} entries
              checked). An entry was changed or removed outside Tooken.
            </div>
          )}
        </div>
      )}
    </section>
  );
}
