import { keepPreviousData, useQuery } from '@tanstack/react-query';
import type { Token, TokenWithSecret } from '@tooken/client';
import { useEffect, useState } from 'react';
import { useSearchParams } from 'react-router';
import { Pager } from '../components/Pager';
import { canWrite, useWorkspace } from '../layout/workspace';
import { ErrorState, Loading } from '../ui/states';
import { EmptyTokens } from './EmptyTokens';
import { STATUS_NAMES, STATUSES, type Status } from './format';
import { NewTokenDialog } from './NewTokenDialog';
import { SecretDialog } from './SecretDialog';
import { TokenPanel } from './TokenPanel';
import { TokenTable } from './TokenTable';

const PER_PAGE = 20;

/** The Tokens screen: search, status filter and pages live in the URL, so a view can be linked. */
export function TokensPage() {
  const { client, role, settings, workspace } = useWorkspace();
  const [params, setParams] = useSearchParams();
  const name = params.get('name') ?? '';
  const rawStatus = params.get('status');
  const status = STATUSES.includes(rawStatus as Status) ? (rawStatus as Status) : undefined;
  const page = Math.max(1, Number.parseInt(params.get('page') ?? '1', 10) || 1);
  const [search, setSearch] = useState(name);
  const [creating, setCreating] = useState(false);
  const [selected, setSelected] = useState<Token | null>(null);
  const [secret, setSecret] = useState<{ title: string; token: TokenWithSecret } | null>(null);

  const update = (changes: Record<string, string | undefined>) =>
    setParams(
      (current) => {
        const next = new URLSearchParams(current);
        for (const [key, value] of Object.entries(changes)) {
          if (value) next.set(key, value);
          else next.delete(key);
        }
        return next;
      },
      { replace: true },
    );

  // Searching as one types, once the typing pauses.
  useEffect(() => {
    if (search === name) return;
    const timer = setTimeout(() => update({ name: search.trim() || undefined, page: undefined }), 250);
    return () => clearTimeout(timer);
  });

  const tokens = useQuery({
    queryKey: ['tokens', workspace.slug, { name, status, page }],
    queryFn: () =>
      client.tokens.list({
        page,
        per_page: PER_PAGE,
        ...(name ? { name } : {}),
        ...(status ? { status } : {}),
      }),
    placeholderData: keepPreviousData,
  });
  const filtered = name !== '' || status !== undefined;
  const total = tokens.data?.meta.total ?? 0;
  const writer = canWrite(role);

  return (
    <>
      <div className="page-header">
        <h1>Tokens</h1>
        {writer ? (
          <button
            type="button"
            className="button primary"
            onClick={() => setCreating(true)}
            disabled={!settings}
          >
            New Token
          </button>
        ) : null}
      </div>
      <section className="card" aria-label="Tokens" aria-busy={tokens.isFetching}>
        {tokens.isPending ? (
          <Loading label="Loading tokens…" />
        ) : tokens.isError ? (
          <ErrorState error={tokens.error} retry={() => tokens.refetch()} />
        ) : total === 0 && !filtered ? (
          <EmptyTokens canCreate={writer} onCreate={() => setCreating(true)} />
        ) : (
          <>
            <div className="toolbar">
              <div className="field">
                <label htmlFor="token-search">Search by name</label>
                <input
                  id="token-search"
                  className="input"
                  type="search"
                  value={search}
                  onChange={(event) => setSearch(event.target.value)}
                />
              </div>
              <div className="field">
                <label htmlFor="token-status">Status</label>
                <select
                  id="token-status"
                  className="select"
                  value={status ?? ''}
                  onChange={(event) => update({ status: event.target.value || undefined, page: undefined })}
                >
                  <option value="">All</option>
                  {STATUSES.map((s) => (
                    <option key={s} value={s}>
                      {STATUS_NAMES[s]}
                    </option>
                  ))}
                </select>
              </div>
              <span className="hint">Times in {settings?.timezone ?? 'UTC'}</span>
            </div>
            {tokens.data.data.length === 0 ? (
              <div className="empty">
                <p>No tokens match these filters.</p>
                <button
                  type="button"
                  className="button"
                  onClick={() => {
                    setSearch('');
                    update({ name: undefined, status: undefined, page: undefined });
                  }}
                >
                  Clear filters
                </button>
              </div>
            ) : (
              <TokenTable
                tokens={tokens.data.data}
                timeZone={settings?.timezone ?? 'UTC'}
                onOpen={setSelected}
              />
            )}
            <Pager
              always
              label="Pages"
              page={page}
              shownPage={tokens.data.meta.page}
              busy={tokens.isPlaceholderData}
              perPage={PER_PAGE}
              total={total}
              noun={['token', 'tokens']}
              onPage={(to) => update({ page: String(to) })}
            />
          </>
        )}
      </section>
      <NewTokenDialog
        open={creating}
        onOpenChange={setCreating}
        onCreated={(token) => {
          setCreating(false);
          setSecret({ title: 'Token created', token });
        }}
      />
      <TokenPanel
        token={selected}
        onClose={() => setSelected(null)}
        onRotated={(token) => setSecret({ title: 'Token rotated', token })}
      />
      <SecretDialog
        title={secret?.title ?? ''}
        name={secret?.token.name ?? ''}
        secret={secret?.token.token ?? null}
        onClose={() => setSecret(null)}
      />
    </>
  );
}
