import { useMutation, useQueryClient } from '@tanstack/react-query';
import type { TookenClient } from '@tooken/client';
import { type FormEvent, useState } from 'react';
import { formErrors } from '../api/errors';
import { ME_KEY } from '../api/session';
import { TextField } from '../ui/Field';
import { FormError } from '../ui/states';
import { Enrol } from './Enrol';

/** Two-factor on: turning it off (password and a code). Off: enrolling. */
export function TwoFactorCard({ client, enabled }: { client: TookenClient; enabled: boolean }) {
  const queryClient = useQueryClient();
  const refresh = () => queryClient.invalidateQueries({ queryKey: ME_KEY });
  if (!enabled) return <Enrol client={client} onDone={refresh} />;
  return <Disable client={client} onDone={refresh} />;
}

function Disable({ client, onDone }: { client: TookenClient; onDone: () => void }) {
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const disable = useMutation({
    mutationFn: () => client.me.twoFactor.disable(password, code.trim()),
    onSuccess: onDone,
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    disable.mutate();
  };
  const errors = formErrors(disable.error, ['password', 'code']);
  return (
    <form className="form" onSubmit={submit} noValidate aria-label="Disable two-factor authentication">
      <p>
        <span className="badge active">On</span> Signing in asks for a code from your authenticator app.
      </p>
      <p className="hint">
        To turn it off, enter your password and a code of the app (or one of your recovery codes).
      </p>
      <FormError message={errors.form} />
      <TextField
        label="Password"
        name="password"
        type="password"
        autoComplete="current-password"
        value={password}
        onChange={setPassword}
        error={errors.fields.password}
        required
      />
      <TextField
        label="Code or recovery code"
        name="code"
        autoComplete="one-time-code"
        value={code}
        onChange={setCode}
        error={errors.fields.code}
        required
      />
      <div className="actions">
        <button type="submit" className="button danger" disabled={disable.isPending}>
          {disable.isPending ? 'Turning off…' : 'Disable two-factor authentication'}
        </button>
      </div>
    </form>
  );
}
