import { useMutation, useQueryClient } from '@tanstack/react-query';
import type { Settings } from '@tooken/client';
import { type FormEvent, useMemo, useState } from 'react';
import { useNavigate } from 'react-router';
import { fetchMe, ME_KEY } from '../../api/session';
import { useWorkspace } from '../../layout/workspace';
import { Field, TextField } from '../../ui/Field';
import { FormError } from '../../ui/states';
import { settingsFormErrors } from '../field-errors';
import { timezones } from './timezones';

const FIELDS = ['name', 'slug', 'timezone', 'default_token_expiration_days', 'audit_log_retention_days'];
const WHOLE = /^\d+$/;

/**
 * Name, slug, timezone, default expiration and audit log retention (Owner). Only what changed is
 * sent; a new slug moves the dashboard to the workspace's new address.
 */
export function WorkspaceForm({ settings }: { settings: Settings }) {
  const { client, workspace } = useWorkspace();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const zones = useMemo(timezones, []);
  const [name, setName] = useState(settings.name);
  const [slug, setSlug] = useState(settings.slug);
  const [timezone, setTimezone] = useState(settings.timezone);
  const [never, setNever] = useState(settings.default_token_expiration_days === null);
  const [days, setDays] = useState(String(settings.default_token_expiration_days ?? 90));
  const [retention, setRetention] = useState(String(settings.audit_log_retention_days));
  const [local, setLocal] = useState<Record<string, string>>({});

  const save = useMutation({
    mutationFn: (patch: Parameters<typeof client.settings.update>[0]) => client.settings.update(patch),
    onSuccess: async (updated) => {
      queryClient.setQueryData(['settings', updated.slug], updated);
      // The workspace list (switcher, roles, slugs) comes from the session: read it again.
      const me = await fetchMe();
      queryClient.setQueryData(ME_KEY, me);
      if (updated.slug !== workspace.slug) {
        navigate(`/w/${encodeURIComponent(updated.slug)}/settings/general`, { replace: true });
      }
    },
  });

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const problems: Record<string, string> = {};
    if (!never && !WHOLE.test(days.trim()))
      problems.default_token_expiration_days = 'Enter a whole number of days from 1 to 365, or choose Never.';
    if (!WHOLE.test(retention.trim()))
      problems.audit_log_retention_days = 'Enter a whole number of days from 1 to 365.';
    setLocal(problems);
    if (Object.keys(problems).length > 0) return;
    const expiration = never ? null : Number(days);
    const patch = {
      ...(name !== settings.name ? { name } : {}),
      ...(slug !== settings.slug ? { slug } : {}),
      ...(timezone !== settings.timezone ? { timezone } : {}),
      ...(expiration !== settings.default_token_expiration_days
        ? { default_token_expiration_days: expiration }
        : {}),
      ...(Number(retention) !== settings.audit_log_retention_days
        ? { audit_log_retention_days: Number(retention) }
        : {}),
    };
    save.mutate(patch);
  };

  const server = settingsFormErrors(save.error, FIELDS);
  const errors: Record<string, string | undefined> = { ...server.fields, ...local };
  const slugChanged = slug !== settings.slug;
  return (
    <form className="form narrow" onSubmit={submit} noValidate aria-label="Workspace settings">
      <FormError message={server.form} />
      <TextField
        label="Workspace name"
        name="name"
        value={name}
        onChange={setName}
        error={errors.name}
        required
      />
      <TextField
        label="Slug"
        name="slug"
        value={slug}
        onChange={setSlug}
        error={errors.slug}
        hint={
          <>
            Lowercase letters, digits and dashes. The API paths contain it (
            <code>/v1/workspaces/{slug || '…'}/…</code>): changing it changes them at once, and the old paths
            answer 404.
          </>
        }
        required
      />
      {slugChanged ? (
        <div className="alert warning" role="note">
          Saving moves this workspace from <code>/v1/workspaces/{settings.slug}</code> to{' '}
          <code>/v1/workspaces/{slug || '…'}</code>. Update every script and integration that uses the old
          path.
        </div>
      ) : null}
      <Field label="Timezone" error={errors.timezone} hint="Type to search. Times in the dashboard use it.">
        {({ id, describedBy, invalid }) => (
          <>
            <input
              id={id}
              className="input"
              name="timezone"
              list={`${id}-zones`}
              value={timezone}
              onChange={(event) => setTimezone(event.target.value)}
              aria-describedby={describedBy}
              aria-invalid={invalid}
              autoComplete="off"
              spellCheck={false}
            />
            <datalist id={`${id}-zones`}>
              {zones.map((zone) => (
                <option key={zone} value={zone} />
              ))}
            </datalist>
          </>
        )}
      </Field>
      <Field
        label="Default expiration"
        error={errors.default_token_expiration_days}
        hint="Days (1–365) a new token lives unless its creator picks otherwise."
      >
        {({ id, describedBy, invalid }) => (
          <div className="inline">
            <input
              id={id}
              className="input days"
              name="default_token_expiration_days"
              type="number"
              min={1}
              max={365}
              value={days}
              disabled={never}
              onChange={(event) => setDays(event.target.value)}
              aria-describedby={describedBy}
              aria-invalid={invalid}
            />
            <span>days</span>
            <label className="check plain">
              <input type="checkbox" checked={never} onChange={(event) => setNever(event.target.checked)} />
              Never
            </label>
          </div>
        )}
      </Field>
      <Field
        label="Audit log retention"
        error={errors.audit_log_retention_days}
        hint="Days (1–365) audit entries are kept before they are purged."
      >
        {({ id, describedBy, invalid }) => (
          <div className="inline">
            <input
              id={id}
              className="input days"
              name="audit_log_retention_days"
              type="number"
              min={1}
              max={365}
              value={retention}
              onChange={(event) => setRetention(event.target.value)}
              aria-describedby={describedBy}
              aria-invalid={invalid}
            />
            <span>days</span>
          </div>
        )}
      </Field>
      <div className="actions">
        <p className="hint" role="status" aria-live="polite">
          {save.isSuccess ? 'Changes saved.' : ''}
        </p>
        <button type="submit" className="button primary" disabled={save.isPending}>
          {save.isPending ? 'Saving…' : 'Save changes'}
        </button>
      </div>
    </form>
  );
}
