import { useMutation, useQueryClient } from '@tanstack/react-query';
import type { Token, TokenWithSecret } from '@tooken/client';
import { type FormEvent, useState } from 'react';
import { formErrors } from '../api/errors';
import { useWorkspace } from '../layout/workspace';
import { Dialog } from '../ui/Dialog';
import { TextField } from '../ui/Field';
import { FormError } from '../ui/states';

/** Rotate: a new secret for the same token; the old one keeps working for the grace period. */
export function RotateDialog(props: {
  token: Token;
  open: boolean;
  onCancel: () => void;
  onRotated: (token: TokenWithSecret) => void;
}) {
  return (
    <Dialog
      open={props.open}
      onOpenChange={(open) => !open && props.onCancel()}
      title={`Rotate “${props.token.name}”`}
      description="A new secret is issued; id, name, scopes and expiry stay. Services using the old secret stop working after the grace period."
    >
      {props.open ? <RotateForm {...props} /> : null}
    </Dialog>
  );
}

function RotateForm({
  token,
  onCancel,
  onRotated,
}: {
  token: Token;
  onCancel: () => void;
  onRotated: (token: TokenWithSecret) => void;
}) {
  const { client, workspace } = useWorkspace();
  const queryClient = useQueryClient();
  const [grace, setGrace] = useState('0');
  const rotate = useMutation({
    mutationFn: () => client.tokens.rotate(token.id, { grace_period_seconds: Number(grace) }),
    onSuccess: async (rotated) => {
      await queryClient.invalidateQueries({ queryKey: ['tokens', workspace.slug] });
      onRotated(rotated);
    },
  });
  const [localError, setLocalError] = useState<string | undefined>();
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const seconds = Number(grace);
    if (grace.trim() === '' || !Number.isInteger(seconds)) {
      setLocalError('Enter a whole number of seconds (0 ends the old secret at once).');
      return;
    }
    setLocalError(undefined);
    rotate.mutate();
  };
  const errors = formErrors(rotate.error, ['grace_period_seconds']);
  return (
    <form className="form" onSubmit={submit} noValidate>
      <FormError message={errors.form} />
      <TextField
        label="Grace period (seconds)"
        name="grace_period_seconds"
        type="number"
        min={0}
        max={86400}
        value={grace}
        onChange={setGrace}
        error={localError ?? errors.fields.grace_period_seconds}
        hint="0 to 86400 (24 hours). During the grace period both the old and the new secret work."
        autoFocus
      />
      <div className="actions">
        <button type="button" className="button" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" className="button primary" disabled={rotate.isPending}>
          {rotate.isPending ? 'Rotating…' : 'Rotate token'}
        </button>
      </div>
    </form>
  );
}
