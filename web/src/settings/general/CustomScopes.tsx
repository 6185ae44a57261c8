import { useMutation, useQueryClient } from '@tanstack/react-query';
import type { Settings } from '@tooken/client';
import { type FormEvent, useState } from 'react';
import { useWorkspace } from '../../layout/workspace';
import { TextField } from '../../ui/Field';
import { FormError } from '../../ui/states';
import { settingsFormErrors } from '../field-errors';

/**
 * The workspace's custom scopes (Owner): added and removed one at a time, each saved at once. They
 * grant nothing inside Tooken; verify returns them to the workspace's own services.
 */
export function CustomScopes({ settings }: { settings: Settings }) {
  const { client, workspace } = useWorkspace();
  const queryClient = useQueryClient();
  const [scope, setScope] = useState('');
  const change = useMutation({
    mutationFn: (scopes: string[]) => client.settings.update({ custom_scopes: scopes }),
    onSuccess: (updated) => queryClient.setQueryData(['settings', workspace.slug], updated),
  });
  const add = (event: FormEvent) => {
    event.preventDefault();
    const value = scope.trim();
    change.mutate([...settings.custom_scopes, value], { onSuccess: () => setScope('') });
  };
  const errors = settingsFormErrors(change.error, ['custom_scopes']);
  return (
    <div className="form narrow">
      {settings.custom_scopes.length === 0 ? (
        <p className="hint">No custom scopes yet. Add one your services check, e.g. orders:read.</p>
      ) : (
        <ul className="scope-list" aria-label="Custom scopes">
          {settings.custom_scopes.map((s) => (
            <li key={s} className="scope-item">
              <code>{s}</code>
              <button
                type="button"
                className="button small ghost"
                aria-label={`Remove ${s}`}
                disabled={change.isPending}
                onClick={() => change.mutate(settings.custom_scopes.filter((other) => other !== s))}
              >
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      <form className="scope-add" onSubmit={add} noValidate aria-label="Add a custom scope">
        <TextField
          label="New custom scope"
          name="custom_scope"
          value={scope}
          onChange={setScope}
          error={errors.fields.custom_scopes}
          hint="Like resource:action — lowercase, at least one colon (orders:read, billing:invoices:write)."
        />
        <button type="submit" className="button" disabled={change.isPending || scope.trim() === ''}>
          Add scope
        </button>
      </form>
      <FormError message={errors.form} />
    </div>
  );
}
