import { useMutation, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { useNavigate } from 'react-router';
import { formErrors } from '../api/errors';
import { refreshSession, sessionClient, useMe } from '../api/session';
import { TextField } from '../ui/Field';
import { FormError } from '../ui/states';

/** Name (and optionally slug) of a new workspace; the creator becomes its Owner and lands in it. */
export function CreateWorkspaceForm({ onDone, onCancel }: { onDone?: () => void; onCancel?: () => void }) {
  const me = useMe();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const [name, setName] = useState('');
  const [slug, setSlug] = useState('');
  const create = useMutation({
    mutationFn: async () => {
      if (!me.data) throw new Error('signed out');
      return sessionClient(me.data.csrf_token).workspaces.create({
        name: name.trim(),
        ...(slug.trim() ? { slug: slug.trim() } : {}),
      });
    },
    onSuccess: async (workspace) => {
      await refreshSession(queryClient);
      onDone?.();
      navigate(`/w/${encodeURIComponent(workspace.slug)}/tokens`);
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate();
  };
  const errors = formErrors(create.error, ['name', 'slug']);
  return (
    <form className="form" onSubmit={submit} noValidate>
      <FormError message={errors.form} />
      <TextField
        label="Workspace name"
        name="name"
        value={name}
        onChange={setName}
        error={errors.fields.name}
        required
        autoFocus
      />
      <TextField
        label="Slug"
        name="slug"
        value={slug}
        onChange={setSlug}
        error={errors.fields.slug}
        hint="Optional: lower-case letters, digits and dashes. Made from the name when empty."
      />
      <div className="actions">
        {onCancel ? (
          <button type="button" className="button" onClick={onCancel}>
            Cancel
          </button>
        ) : null}
        <button type="submit" className="button primary" disabled={create.isPending}>
          {create.isPending ? 'Creating…' : 'Create workspace'}
        </button>
      </div>
    </form>
  );
}
