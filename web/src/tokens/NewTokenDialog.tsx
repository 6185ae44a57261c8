import { useMutation, useQueryClient } from '@tanstack/react-query';
import type { TokenWithSecret } from '@tooken/client';
import { type FormEvent, useId, useState } from 'react';
import { formErrors } from '../api/errors';
import { useWorkspace } from '../layout/workspace';
import { Dialog } from '../ui/Dialog';
import { TextField } from '../ui/Field';
import { FormError } from '../ui/states';
import { BUILT_IN_SCOPES } from './format';

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * New Token: name, scopes (built-in and the workspace's custom ones), and an expiration prefilled
 * from the workspace default ("Never" when the default is never). The secret comes back once.
 */
export function NewTokenDialog(props: {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  onCreated: (token: TokenWithSecret) => void;
}) {
  return (
    <Dialog
      open={props.open}
      onOpenChange={props.onOpenChange}
      title="New Token"
      description="The secret is shown once, right after creation."
    >
      {props.open ? (
        <NewTokenForm onCancel={() => props.onOpenChange(false)} onCreated={props.onCreated} />
      ) : null}
    </Dialog>
  );
}

function NewTokenForm({
  onCancel,
  onCreated,
}: {
  onCancel: () => void;
  onCreated: (token: TokenWithSecret) => void;
}) {
  const { client, settings, workspace } = useWorkspace();
  const queryClient = useQueryClient();
  const defaultDays = settings ? settings.default_token_expiration_days : 90;
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<string[]>([]);
  const [never, setNever] = useState(defaultDays === null);
  const [days, setDays] = useState(String(defaultDays ?? 90));
  const [localError, setLocalError] = useState<Record<string, string>>({});
  const ids = useId();
  const create = useMutation({
    mutationFn: () =>
      client.tokens.create({
        name: name.trim(),
        scopes,
        expires_at: never ? null : new Date(Date.now() + Number(days) * DAY_MS).toISOString(),
      }),
    onSuccess: async (token) => {
      await queryClient.invalidateQueries({ queryKey: ['tokens', workspace.slug] });
      onCreated(token);
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const problems: Record<string, string> = {};
    if (!never && !(Number.isInteger(Number(days)) && Number(days) >= 1 && days.trim() !== '')) {
      problems.expires_at = 'Enter a whole number of days (1 or more), or choose Never.';
    }
    setLocalError(problems);
    if (Object.keys(problems).length === 0) create.mutate();
  };
  const server = formErrors(create.error, ['name', 'scopes', 'expires_at']);
  const errors = { ...server.fields, ...localError };
  const available = [...BUILT_IN_SCOPES, ...(settings?.custom_scopes ?? [])];
  const toggle = (scope: string, on: boolean) =>
    setScopes((current) => (on ? [...current, scope] : current.filter((s) => s !== scope)));
  return (
    <form className="form" onSubmit={submit} noValidate>
      <FormError message={server.form} />
      <TextField
        label="Name"
        name="name"
        value={name}
        onChange={setName}
        error={errors.name}
        hint="Unique among this workspace's tokens, e.g. orders-service."
        autoFocus
        required
      />
      <div className="field">
        <fieldset aria-describedby={errors.scopes ? `${ids}-scopes-error` : undefined}>
          <legend className="label">Scopes</legend>
          {available.map((scope) => (
            <label key={scope} className="check">
              <input
                type="checkbox"
                checked={scopes.includes(scope)}
                onChange={(event) => toggle(scope, event.target.checked)}
              />
              <code>{scope}</code>
              {BUILT_IN_SCOPES.includes(scope as (typeof BUILT_IN_SCOPES)[number]) ? null : (
                <span className="hint">custom</span>
              )}
            </label>
          ))}
        </fieldset>
        {errors.scopes ? (
          <p className="field-error" id={`${ids}-scopes-error`}>
            {errors.scopes}
          </p>
        ) : null}
      </div>
      <div className="field">
        <fieldset aria-describedby={errors.expires_at ? `${ids}-expiry-error` : undefined}>
          <legend className="label">Expiration</legend>
          <label className="check">
            <input type="radio" name="expiration" checked={!never} onChange={() => setNever(false)} />
            Expires after
            <input
              className="input days"
              type="number"
              min={1}
              aria-label="Days until it expires"
              value={days}
              disabled={never}
              onChange={(event) => setDays(event.target.value)}
              aria-invalid={Boolean(errors.expires_at)}
            />
            days
          </label>
          <label className="check">
            <input type="radio" name="expiration" checked={never} onChange={() => setNever(true)} />
            Never
          </label>
        </fieldset>
        {errors.expires_at ? (
          <p className="field-error" id={`${ids}-expiry-error`}>
            {errors.expires_at}
          </p>
        ) : null}
        <span className="hint">
          Workspace default: {defaultDays === null ? 'never expires' : `${defaultDays} days`}.
        </span>
      </div>
      <div className="actions">
        <button type="button" className="button" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" className="button primary" disabled={create.isPending}>
          {create.isPending ? 'Creating…' : 'Create token'}
        </button>
      </div>
    </form>
  );
}
