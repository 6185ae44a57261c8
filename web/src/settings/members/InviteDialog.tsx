import { useMutation, useQueryClient } from '@tanstack/react-query';
import type { Invitation } from '@tooken/client';
import { type FormEvent, useState } from 'react';
import type { Role } from '../../api/session';
import { useWorkspace } from '../../layout/workspace';
import { Dialog } from '../../ui/Dialog';
import { Field, TextField } from '../../ui/Field';
import { FormError } from '../../ui/states';
import { settingsFormErrors } from '../field-errors';
import { ROLE_NAMES, ROLES } from '../roles';

/** Invite (Owner): an email and a role; the invitation then waits among the pending ones. */
export function InviteDialog(props: {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  onInvited: (invitation: Invitation) => void;
}) {
  return (
    <Dialog
      open={props.open}
      onOpenChange={props.onOpenChange}
      title="Invite a member"
      description="They get a link, valid for 7 days, that makes them a member with this role."
    >
      {props.open ? (
        <InviteForm onCancel={() => props.onOpenChange(false)} onInvited={props.onInvited} />
      ) : null}
    </Dialog>
  );
}

function InviteForm({
  onCancel,
  onInvited,
}: {
  onCancel: () => void;
  onInvited: (invitation: Invitation) => void;
}) {
  const { client, workspace } = useWorkspace();
  const queryClient = useQueryClient();
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const invite = useMutation({
    gcTime: 0,
    mutationFn: () => client.invitations.create({ email: email.trim(), role }),
    onSuccess: async (invitation) => {
      await queryClient.invalidateQueries({ queryKey: ['invitations', workspace.slug] });
      onInvited(invitation);
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    invite.mutate();
  };
  const errors = settingsFormErrors(invite.error, ['email', 'role']);
  return (
    <form className="form" onSubmit={submit} noValidate>
      <FormError message={errors.form} />
      <TextField
        label="Email"
        name="email"
        type="email"
        value={email}
        onChange={setEmail}
        error={errors.fields.email}
        autoComplete="off"
        autoFocus
        required
      />
      <Field label="Role" error={errors.fields.role} hint="What they may do once they join.">
        {({ id, describedBy, invalid }) => (
          <select
            id={id}
            className="select"
            name="role"
            value={role}
            onChange={(event) => setRole(event.target.value as Role)}
            aria-describedby={describedBy}
            aria-invalid={invalid}
          >
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {ROLE_NAMES[r]}
              </option>
            ))}
          </select>
        )}
      </Field>
      <div className="actions">
        <button type="button" className="button" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" className="button primary" disabled={invite.isPending}>
          {invite.isPending ? 'Inviting…' : 'Invite'}
        </button>
      </div>
    </form>
  );
}
