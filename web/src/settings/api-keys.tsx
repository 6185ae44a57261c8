import { keepPreviousData, useQuery, useQueryClient } from '@tanstack/react-query';
import type { ApiKey } from '@tooken/client';
import { useState } from 'react';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { Pager, useClampPage } from '../components/Pager';
import { useWorkspace } from '../layout/workspace';
import { SecretDialog } from '../tokens/SecretDialog';
import { ErrorState, Loading } from '../ui/states';
import { ApiKeyTable, type KeyRights } from './api-keys/ApiKeyTable';
import { NewApiKeyDialog, type NewKey } from './api-keys/NewApiKeyDialog';
import './settings-tabs.css';

const PER_PAGE = 25;

/**
 * The API Keys tab of Settings: personal and team API keys. Everyone may make, regenerate and
 * delete their own personal keys; team keys are the Owners'. An Owner also sees (and may delete,
 * not regenerate) other members' personal keys.
 */
export function ApiKeysTab() {
  const { client, me, role, settings, workspace } = useWorkspace();
  const queryClient = useQueryClient();
  const [page, setPage] = useState(1);
  const [creating, setCreating] = useState(false);
  const [confirm, setConfirm] = useState<{ action: 'regenerate' | 'delete'; key: ApiKey } | null>(null);
  const [secret, setSecret] = useState<{ title: string; key: NewKey } | null>(null);
  const owner = role === 'owner';
  const keys = useQuery({
    queryKey: ['api-keys', workspace.slug, page],
    queryFn: () => client.apiKeys.list({ page, per_page: PER_PAGE }),
    placeholderData: keepPreviousData,
  });
  // Owners see other members' personal keys: named by their member's email.
  const members = useQuery({
    queryKey: ['members', workspace.slug, 'all'],
    queryFn: () => client.members.list({ per_page: 100 }),
    enabled: owner,
  });
  const emails = Object.fromEntries((members.data?.data ?? []).map((m) => [m.user_id, m.email]));
  const rights = (key: ApiKey): KeyRights => {
    const mine = key.kind === 'personal' && key.user_id === me.user.id;
    return { regenerate: mine || (key.kind === 'team' && owner), remove: mine || owner };
  };
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['api-keys', workspace.slug] });
  const total = keys.data?.meta.total ?? 0;
  useClampPage(page, keys.data?.data.length, setPage);

  return (
    <>
      <section className="card" aria-labelledby="api-keys-title">
        <div className="card-header">
          <div>
            <h2 id="api-keys-title">API Keys</h2>
            <span className="hint">
              For programs calling the API: send one as <code>Authorization: Bearer tok_live_…</code>. Times
              in {settings?.timezone ?? 'UTC'}.
            </span>
          </div>
          <button
            type="button"
            className="button primary"
            onClick={() => {
              setCreating(true);
            }}
          >
            New API Key
          </button>
        </div>
        {keys.isPending ? (
          <Loading label="Loading API keys…" />
        ) : keys.isError ? (
          <ErrorState error={keys.error} retry={() => keys.refetch()} />
        ) : total === 0 ? (
          <div className="empty">
            <p>No API keys yet.</p>
            <p className="hint">
              Generate one for a script, a CI job or a server
              {owner ? ': a personal key acts as you, a team key with a role of its own.' : '.'}
            </p>
          </div>
        ) : (
          <>
            <ApiKeyTable
              keys={keys.data.data}
              timeZone={settings?.timezone ?? 'UTC'}
              userId={me.user.id}
              emails={emails}
              rights={rights}
              onRegenerate={(key) => {
                setConfirm({ action: 'regenerate', key });
              }}
              onDelete={(key) => {
                setConfirm({ action: 'delete', key });
              }}
            />
            <Pager
              page={page}
              perPage={PER_PAGE}
              total={total}
              noun={['API key', 'API keys']}
              label="API key pages"
              onPage={setPage}
            />
          </>
        )}
      </section>
      <NewApiKeyDialog
        open={creating}
        onOpenChange={setCreating}
        onCreated={(key) => {
          setCreating(false);
          setSecret({ title: 'API key generated', key });
        }}
      />
      <ConfirmDialog
        open={confirm?.action === 'regenerate'}
        title={`Regenerate “${confirm?.key.name ?? ''}”?`}
        description="A new secret replaces this key's secret: the current one stops working at once. The name and role stay."
        confirm="Regenerate key"
        pending="Regenerating…"
        action={async () => {
          const key = confirm?.key;
          if (!key) return;
          const regenerated = await client.apiKeys.regenerate(key.id);
          await refresh();
          setSecret({ title: 'API key regenerated', key: { name: regenerated.name, key: regenerated.key } });
        }}
        onCancel={() => setConfirm(null)}
        onDone={() => setConfirm(null)}
      />
      <ConfirmDialog
        open={confirm?.action === 'delete'}
        title={`Delete “${confirm?.key.name ?? ''}”?`}
        description="Every request with this key fails from now on. This cannot be undone."
        confirm="Delete key"
        pending="Deleting…"
        action={async () => {
          const key = confirm?.key;
          if (key) await client.apiKeys.delete(key.id);
          await refresh();
        }}
        onCancel={() => setConfirm(null)}
        onDone={() => setConfirm(null)}
      />
      <SecretDialog
        title={secret?.title ?? ''}
        name={secret?.key.name ?? ''}
        secret={secret?.key.key ?? null}
        onClose={() => setSecret(null)}
      />
    </>
  );
}
