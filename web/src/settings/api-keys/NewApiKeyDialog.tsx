import { useMutation, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useId, useState } from 'react';
import { RadioOption } from '../../components/RadioOption';
import { useWorkspace } from '../../layout/workspace';
import { Dialog } from '../../ui/Dialog';
import { Field, TextField } from '../../ui/Field';
import { FormError } from '../../ui/states';
import { settingsFormErrors } from '../field-errors';

type Kind = 'personal' | 'team';

/** What the dialog hands back: the new key with its secret, shown once. */
export interface NewKey {
  name: string;
  key: string;
}

/**
 * New API Key: a name, and for Owners the kind (personal or team) and a team key's role. Others
 * are not offered the team kind: their keys are personal, acting with their own role.
 */
export function NewApiKeyDialog(props: {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  onCreated: (key: NewKey) => void;
}) {
  return (
    <Dialog
      open={props.open}
      onOpenChange={props.onOpenChange}
      title="New API Key"
      description="The key is shown once, right after it is generated."
    >
      {props.open ? (
        <NewApiKeyForm onCancel={() => props.onOpenChange(false)} onCreated={props.onCreated} />
      ) : null}
    </Dialog>
  );
}

function NewApiKeyForm({ onCancel, onCreated }: { onCancel: () => void; onCreated: (key: NewKey) => void }) {
  const { client, role, workspace } = useWorkspace();
  const queryClient = useQueryClient();
  const ids = useId();
  const [name, setName] = useState('');
  const [kind, setKind] = useState<Kind>('personal');
  const [teamRole, setTeamRole] = useState<'admin' | 'viewer'>('admin');
  const create = useMutation({
    // The answer holds the secret: dropped as soon as the dialog is gone.
    gcTime: 0,
    mutationFn: () =>
      client.apiKeys.create(
        kind === 'team' ? { name: name.trim(), kind, role: teamRole } : { name: name.trim(), kind },
      ),
    onSuccess: async (created) => {
      await queryClient.invalidateQueries({ queryKey: ['api-keys', workspace.slug] });
      onCreated({ name: created.name, key: created.key });
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate();
  };
  const errors = settingsFormErrors(create.error, ['name', 'kind', 'role']);
  const owner = role === 'owner';
  return (
    <form className="form" onSubmit={submit} noValidate>
      <FormError message={errors.form} />
      <TextField
        label="Name"
        name="name"
        value={name}
        onChange={setName}
        error={errors.fields.name}
        hint="Unique among this workspace's API keys, e.g. ci-deploy."
        autoFocus
        required
      />
      {owner ? (
        <div className="field">
          <fieldset aria-describedby={errors.fields.kind ? `${ids}-kind-error` : undefined}>
            <legend className="label">Kind</legend>
            <RadioOption
              name="kind"
              value="personal"
              label="Personal"
              hint="Yours: acts with your current role, deleted if you leave."
              checked={kind === 'personal'}
              onSelect={() => setKind('personal')}
            />
            <RadioOption
              name="kind"
              value="team"
              label="Team"
              hint="The workspace's, for CI/CD and servers: a fixed role, survives member changes."
              checked={kind === 'team'}
              onSelect={() => setKind('team')}
            />
          </fieldset>
          {errors.fields.kind ? (
            <p className="field-error" id={`${ids}-kind-error`}>
              {errors.fields.kind}
            </p>
          ) : null}
        </div>
      ) : (
        <p className="hint">A personal key: it acts with your role in this workspace.</p>
      )}
      {owner && kind === 'team' ? (
        <Field label="Role" error={errors.fields.role} hint="What the team key may do; it never changes.">
          {({ id, describedBy, invalid }) => (
            <select
              id={id}
              className="select"
              value={teamRole}
              onChange={(event) => setTeamRole(event.target.value as 'admin' | 'viewer')}
              aria-describedby={describedBy}
              aria-invalid={invalid}
            >
              <option value="admin">Admin</option>
              <option value="viewer">Viewer</option>
            </select>
          )}
        </Field>
      ) : null}
      <div className="actions">
        <button type="button" className="button" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" className="button primary" disabled={create.isPending}>
          {create.isPending ? 'Generating…' : 'Generate'}
        </button>
      </div>
    </form>
  );
}
