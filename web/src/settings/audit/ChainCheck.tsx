import { useMutation } from '@tanstack/react-query';
import { messageOf } from '../../api/errors';
import { useWorkspace } from '../../layout/workspace';

/**
 * The hash chain check (Owners only): every retained entry hashes to its own `hash` and links to
 * the one before. It walks the whole retained log, so it runs when asked, not on every visit.
 */
export function ChainCheck() {
  const { client } = useWorkspace();
  const check = useMutation({ mutationFn: () => client.audit.verify() });
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
          disabled={check.isPending}
          onClick={() => check.mutate()}
        >
          {check.isPending ? 'Verifying…' : check.data ? 'Verify again' : 'Verify chain'}
        </button>
      </div>
      <div className="card-body" role="status" aria-live="polite">
        {check.isError ? (
          <div className="alert error">{messageOf(check.error)}</div>
        ) : check.data === undefined ? (
          <p className="hint">
            {check.isPending
              ? 'Verifying the chain…'
              : 'Not verified yet in this visit: Verify chain walks every retained entry.'}
          </p>
        ) : check.data.ok ? (
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
    </section>
  );
}
