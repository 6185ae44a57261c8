import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { useSearchParams } from 'react-router';
import { useWorkspace } from '../layout/workspace';
import { ErrorState, Loading } from '../ui/states';
import { ActorSelect } from './audit/ActorSelect';
import { AuditTable } from './audit/AuditTable';
import { ChainCheck } from './audit/ChainCheck';
import { DateField } from './audit/DateField';
import { ExportDialog } from './audit/ExportDialog';
import { dayRange } from './audit/time';
import { AUDIT_EVENTS } from './webhooks/events';
import './cards.css';
import './audit.css';
import { Pager } from '../components/Pager';

const PER_PAGE = 25;
const FILTERS = ['from', 'to', 'event', 'actor'] as const;

/**
 * The Audit Logs tab of Settings (Owners and Admins; the tab is absent for Viewers): entries with
 * filters by days, event and actor (kept in the URL), times in the workspace timezone, Export to
 * CSV, and for Owners the chain verification.
 */
export function AuditLogsTab() {
  const { client, role, settings, workspace } = useWorkspace();
  const [params, setParams] = useSearchParams();
  const [exporting, setExporting] = useState(false);
  const zone = settings?.timezone ?? 'UTC';
  const from = params.get('from') ?? '';
  const to = params.get('to') ?? '';
  const event = params.get('event') ?? '';
  const actor = params.get('actor') ?? '';
  const page = Math.max(1, Number.parseInt(params.get('page') ?? '1', 10) || 1);
  const filtered = FILTERS.some((name) => params.get(name));
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
  const filter = (name: (typeof FILTERS)[number], value: string) =>
    update({ [name]: value, page: undefined });

  const entries = useQuery({
    queryKey: ['audit', workspace.slug, { from, to, event, actor, page, zone }],
    queryFn: () =>
      client.audit.list({
        page,
        per_page: PER_PAGE,
        ...dayRange(from, to, zone),
        ...(event ? { event: [event] } : {}),
        ...(actor ? { actor_id: actor } : {}),
      }),
    placeholderData: keepPreviousData,
    enabled: settings !== undefined,
  });
  const total = entries.data?.meta.total ?? 0;

  return (
    <div className="stack">
      <section className="card" aria-labelledby="audit-title">
        <div className="card-header">
          <div>
            <h2 id="audit-title">Audit Logs</h2>
            <p className="hint">Every significant change in this workspace, newest first. Times in {zone}.</p>
          </div>
          <button type="button" className="button" onClick={() => setExporting(true)}>
            Export
          </button>
        </div>
        <div className="toolbar audit-filters">
          <DateField label="From" name="from" value={from} onChange={(value) => filter('from', value)} />
          <DateField label="To" name="to" value={to} onChange={(value) => filter('to', value)} />
          <div className="field">
            <label htmlFor="audit-event">Event</label>
            <select
              id="audit-event"
              className="select"
              value={event}
              onChange={(e) => filter('event', e.target.value)}
            >
              <option value="">All events</option>
              {AUDIT_EVENTS.map((name) => (
                <option key={name} value={name}>
                  {name}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor="audit-actor">Actor</label>
            <ActorSelect id="audit-actor" value={actor} onChange={(value) => filter('actor', value)} />
          </div>
          {filtered ? (
            <button
              type="button"
              className="button ghost"
              onClick={() =>
                update({
                  from: undefined,
                  to: undefined,
                  event: undefined,
                  actor: undefined,
                  page: undefined,
                })
              }
            >
              Clear filters
            </button>
          ) : null}
        </div>
        {entries.isPending ? (
          <Loading label="Loading the audit log…" />
        ) : entries.isError ? (
          <ErrorState error={entries.error} retry={() => entries.refetch()} />
        ) : total === 0 ? (
          <div className="empty">
            <p>
              {filtered
                ? 'No entries match these filters.'
                : 'No entries yet. Changes to tokens, keys, members, webhooks and settings are recorded here.'}
            </p>
          </div>
        ) : (
          <>
            <AuditTable entries={entries.data.data} timeZone={zone} />
            <Pager
              always
              label="Audit log pages"
              page={page}
              perPage={PER_PAGE}
              total={total}
              noun={['entry', 'entries']}
              onPage={(to) => update({ page: String(to) })}
            />
          </>
        )}
      </section>
      {role === 'owner' ? <ChainCheck /> : null}
      <ExportDialog open={exporting} onOpenChange={setExporting} from={from} to={to} />
    </div>
  );
}
