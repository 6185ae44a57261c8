import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { useSearchParams } from 'react-router';
import { canWrite, useWorkspace } from '../layout/workspace';
import { SecretDialog } from '../tokens/SecretDialog';
import { ErrorState, Loading } from '../ui/states';
import { formatInstant } from './audit/time';
import { NewWebhookDialog, type WebhookWithSecret } from './webhooks/NewWebhookDialog';
import { WebhookDetails } from './webhooks/WebhookDetails';
import { WebhookStatus } from './webhooks/WebhookStatus';
import './cards.css';
import './webhooks.css';
import { Pager } from '../components/Pager';

const PER_PAGE = 20;

/**
 * The Webhooks tab of Settings: the workspace's endpoints, one endpoint's deliveries (its id in the
 * URL, `?webhook=`), and for Owners and Admins New Webhook, Rotate secret, Retry. Viewers see
 * endpoints and deliveries and are offered no change.
 */
export function WebhooksTab() {
  const { client, role, settings, workspace } = useWorkspace();
  const [params, setParams] = useSearchParams();
  const [page, setPage] = useState(1);
  const [creating, setCreating] = useState(false);
  const [secret, setSecret] = useState<{ title: string; hook: WebhookWithSecret } | null>(null);
  const selectedId = params.get('webhook');
  const select = (id: string | null) => setParams(id ? { webhook: id } : {}, { replace: false });
  const zone = settings?.timezone ?? 'UTC';
  const writer = canWrite(role);

  const hooks = useQuery({
    queryKey: ['webhooks', workspace.slug, 'list', page],
    queryFn: () => client.webhooks.list({ page, per_page: PER_PAGE }),
    placeholderData: keepPreviousData,
  });
  const selected = useQuery({
    queryKey: ['webhooks', workspace.slug, selectedId],
    queryFn: () => client.webhooks.get(selectedId ?? ''),
    enabled: selectedId !== null,
  });
  const total = hooks.data?.meta.total ?? 0;

  return (
    <div className="stack">
      <section className="card" aria-labelledby="webhooks-title">
        <div className="card-header">
          <div>
            <h2 id="webhooks-title">Webhooks</h2>
            <p className="hint">
              Signed HTTPS calls to your services when tokens change or audit events happen.
            </p>
          </div>
          {writer ? (
            <button type="button" className="button primary" onClick={() => setCreating(true)}>
              New Webhook
            </button>
          ) : null}
        </div>
        {hooks.isPending ? (
          <Loading label="Loading webhooks…" />
        ) : hooks.isError ? (
          <ErrorState error={hooks.error} retry={() => hooks.refetch()} />
        ) : total === 0 ? (
          <div className="empty">
            <p>
              <strong>No webhooks yet.</strong>{' '}
              {writer
                ? 'Add one with New Webhook: give the URL of a service that should hear about token events.'
                : 'An Owner or Admin of this workspace can add one.'}
            </p>
          </div>
        ) : (
          <>
            <div className="table-wrap">
              <table aria-label="Webhooks">
                <thead>
                  <tr>
                    <th scope="col">URL</th>
                    <th scope="col">Events</th>
                    <th scope="col">Status</th>
                    <th scope="col">Created</th>
                  </tr>
                </thead>
                <tbody>
                  {hooks.data.data.map((hook) => (
                    <tr key={hook.id} className={hook.id === selectedId ? 'selected' : undefined}>
                      <td className="webhook-url">
                        <button type="button" className="link-button" onClick={() => select(hook.id)}>
                          {hook.url}
                        </button>
                        {hook.description ? <span className="hint">{hook.description}</span> : null}
                      </td>
                      <td>
                        {hook.events.length <= 3
                          ? hook.events.join(', ')
                          : `${hook.events.slice(0, 3).join(', ')} and ${hook.events.length - 3} more`}
                      </td>
                      <td>
                        <WebhookStatus hook={hook} timeZone={zone} />
                      </td>
                      <td className="nowrap">{formatInstant(hook.created_at, zone)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <Pager
              label="Webhook pages"
              page={page}
              perPage={PER_PAGE}
              total={total}
              noun={['webhook', 'webhooks']}
              onPage={setPage}
            />
          </>
        )}
      </section>
      {selectedId === null ? null : selected.isPending ? (
        <section className="card">
          <Loading label="Loading the webhook…" />
        </section>
      ) : selected.isError ? (
        <section className="card">
          <ErrorState error={selected.error} retry={() => selected.refetch()} />
        </section>
      ) : (
        <WebhookDetails
          key={selected.data.id}
          hook={selected.data}
          onClose={() => select(null)}
          onDeleted={() => select(null)}
          onRotated={(hook) => setSecret({ title: 'Secret rotated', hook })}
        />
      )}
      <NewWebhookDialog
        open={creating}
        onOpenChange={setCreating}
        onCreated={(hook) => {
          setCreating(false);
          select(hook.id);
          setSecret({ title: 'Webhook created', hook });
        }}
      />
      <SecretDialog
        title={secret?.title ?? ''}
        name={secret?.hook.url ?? ''}
        secret={secret?.hook.secret ?? null}
        onClose={() => setSecret(null)}
      />
    </div>
  );
}
