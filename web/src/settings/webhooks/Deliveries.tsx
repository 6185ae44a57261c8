import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { Delivery, Webhook } from '@tooken/client';
import { useState } from 'react';
import { messageOf } from '../../api/errors';
import { Pager } from '../../components/Pager';
import { canWrite, useWorkspace } from '../../layout/workspace';
import { ErrorState, Loading } from '../../ui/states';
import { formatInstant } from '../audit/time';

const PER_PAGE = 10;
/** While a delivery waits for its next attempt, the list refreshes itself this often. */
const REFRESH_MS = 5000;

const STATUS_NAMES: Record<Delivery['status'], string> = {
  pending: 'Pending',
  succeeded: 'Succeeded',
  failed: 'Failed',
};

/** What the receiver answered last: its status code, or why no answer came. */
function lastResponse(delivery: Delivery): string {
  const last = delivery.attempts[delivery.attempts.length - 1];
  if (!last) return 'Not sent yet';
  if (last.status_code !== null) return String(last.status_code);
  return last.error ?? 'No answer';
}

/** An endpoint's deliveries, newest first, with Retry for those that have not succeeded. */
export function Deliveries({ hook }: { hook: Webhook }) {
  const { client, role, settings, workspace } = useWorkspace();
  const queryClient = useQueryClient();
  const [page, setPage] = useState(1);
  const zone = settings?.timezone ?? 'UTC';
  const key = ['webhooks', workspace.slug, hook.id, 'deliveries'];
  const deliveries = useQuery({
    queryKey: [...key, page],
    queryFn: () => client.webhooks.deliveries(hook.id, { page, per_page: PER_PAGE }),
    placeholderData: keepPreviousData,
    refetchInterval: (query) =>
      query.state.data?.data.some((d) => d.status === 'pending') ? REFRESH_MS : false,
  });
  const retry = useMutation({
    mutationFn: (deliveryId: string) => client.webhooks.retry(hook.id, deliveryId),
    onSettled: () => queryClient.invalidateQueries({ queryKey: key }),
  });
  const writer = canWrite(role);
  const total = deliveries.data?.meta.total ?? 0;

  return (
    <section className="card" aria-labelledby="deliveries-title">
      <div className="card-header">
        <h2 id="deliveries-title">Deliveries</h2>
        <button
          type="button"
          className="button small"
          onClick={() => deliveries.refetch()}
          disabled={deliveries.isFetching}
        >
          Refresh
        </button>
      </div>
      {retry.isError ? (
        <div className="card-body">
          <div className="alert error" role="alert">
            {messageOf(retry.error)}
          </div>
        </div>
      ) : null}
      {deliveries.isPending ? (
        <Loading label="Loading deliveries…" />
      ) : deliveries.isError ? (
        <ErrorState error={deliveries.error} retry={() => deliveries.refetch()} />
      ) : total === 0 ? (
        <div className="empty">
          <p>No deliveries yet. Each event this endpoint carries appears here once it happens.</p>
        </div>
      ) : (
        <>
          <div className="table-wrap">
            <table aria-label="Deliveries">
              <thead>
                <tr>
                  <th scope="col">Event</th>
                  <th scope="col">Status</th>
                  <th scope="col">Response</th>
                  <th scope="col">Attempts</th>
                  <th scope="col">Created</th>
                  <th scope="col">Next attempt</th>
                  {writer ? (
                    <th scope="col">
                      <span className="sr-only">Actions</span>
                    </th>
                  ) : null}
                </tr>
              </thead>
              <tbody>
                {deliveries.data.data.map((delivery) => (
                  <tr key={delivery.id} data-delivery={delivery.id}>
                    <td>
                      <code>{delivery.event}</code>
                    </td>
                    <td>
                      <span className={`badge delivery-${delivery.status}`}>
                        {STATUS_NAMES[delivery.status]}
                      </span>
                    </td>
                    <td className="response" title={delivery.attempts.at(-1)?.response_excerpt ?? undefined}>
                      {lastResponse(delivery)}
                    </td>
                    <td>{delivery.attempts.length}</td>
                    <td className="nowrap">{formatInstant(delivery.created_at, zone)}</td>
                    <td className="nowrap">{formatInstant(delivery.next_attempt_at, zone)}</td>
                    {writer ? (
                      <td>
                        {delivery.status !== 'succeeded' && delivery.attempts.length > 0 ? (
                          <button
                            type="button"
                            className="button small"
                            disabled={retry.isPending && retry.variables === delivery.id}
                            onClick={() => retry.mutate(delivery.id)}
                          >
                            Retry
                          </button>
                        ) : null}
                      </td>
                    ) : null}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager
            always
            label="Delivery pages"
            page={page}
            perPage={PER_PAGE}
            total={total}
            noun={['delivery', 'deliveries']}
            onPage={setPage}
          />
        </>
      )}
    </section>
  );
}
