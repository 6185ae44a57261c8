import { useMutation, useQueryClient } from '@tanstack/react-query';
import type { TookenClient } from '@tooken/client';
import { type FormEvent, useState } from 'react';
import { formErrors } from '../api/errors';
import { TextField } from '../ui/Field';
import { FormError } from '../ui/states';
import { SESSIONS_KEY } from './account-client';

/** Current and new password; every other session of the account ends when it is changed. */
export function ChangePassword({ client }: { client: TookenClient }) {
  const queryClient = useQueryClient();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const change = useMutation({
    mutationFn: () => client.me.changePassword(current, next),
    onSuccess: () => {
      setCurrent('');
      setNext('');
      queryClient.invalidateQueries({ queryKey: SESSIONS_KEY });
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    change.mutate();
  };
  const errors = formErrors(change.error, ['current_password', 'new_password']);
  return (
    <form className="form" onSubmit={submit} noValidate aria-label="Change password">
      <FormError message={errors.form} />
      {change.isSuccess ? (
        <div className="alert info" role="status">
          Password changed. Every other session of your account has been signed out; this one stays signed in.
        </div>
      ) : null}
      <TextField
        label="Current password"
        name="current_password"
        type="password"
        autoComplete="current-password"
        value={current}
        onChange={setCurrent}
        error={errors.fields.current_password}
        required
      />
      <TextField
        label="New password"
        name="new_password"
        type="password"
        autoComplete="new-password"
        value={next}
        onChange={setNext}
        error={errors.fields.new_password}
        hint="10 to 256 characters. Your other sessions will be signed out."
        required
      />
      <div className="actions">
        <button type="submit" className="button primary" disabled={change.isPending}>
          {change.isPending ? 'Changing…' : 'Change password'}
        </button>
      </div>
    </form>
  );
}
