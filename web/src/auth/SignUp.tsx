import { useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { Link, Navigate, useNavigate, useSearchParams } from 'react-router';
import { formErrors } from '../api/errors';
import { anonymousClient, refreshSession, safeNext, useMe } from '../api/session';
import { TextField } from '../ui/Field';
import { AuthCard, FormError, Loading } from '../ui/states';

/**
 * Sign up: the first user of an installation, anyone where sign-up is open, or an invited person
 * (the invitation link passes its token along, which the server accepts even when sign-up is closed).
 */
export function SignUp() {
  const [params] = useSearchParams();
  const next = safeNext(params.get('next'));
  const invitationToken = params.get('invitation') ?? undefined;
  const me = useMe();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const [name, setName] = useState('');
  const [email, setEmail] = useState(params.get('email') ?? '');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  if (me.isPending) return <Loading />;
  if (me.data) return <Navigate to={next} replace />;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await anonymousClient().auth.signup({
        email,
        password,
        ...(name.trim() ? { name: name.trim() } : {}),
        ...(invitationToken ? { invitation_token: invitationToken } : {}),
      });
      await refreshSession(queryClient);
      navigate(next, { replace: true });
    } catch (caught) {
      setError(caught);
      setBusy(false);
    }
  };
  const errors = formErrors(error, ['name', 'email', 'password']);
  return (
    <AuthCard title="Sign up">
      {invitationToken ? (
        <div className="alert info" role="status">
          Sign up with the address your invitation was sent to.
        </div>
      ) : null}
      <form className="form" onSubmit={submit} noValidate>
        <FormError message={errors.form} />
        <TextField
          label="Name"
          name="name"
          autoComplete="name"
          value={name}
          onChange={setName}
          error={errors.fields.name}
          autoFocus
        />
        <TextField
          label="Email"
          name="email"
          type="email"
          autoComplete="email"
          value={email}
          onChange={setEmail}
          error={errors.fields.email}
          required
        />
        <TextField
          label="Password"
          name="password"
          type="password"
          autoComplete="new-password"
          value={password}
          onChange={setPassword}
          error={errors.fields.password}
          hint="At least 10 characters."
          required
        />
        <button type="submit" className="button primary" disabled={busy}>
          {busy ? 'Creating your account…' : 'Sign up'}
        </button>
      </form>
      <p className="hint">
        Already have an account? <Link to={`/sign-in${params.size > 0 ? `?${params}` : ''}`}>Sign in</Link>
      </p>
    </AuthCard>
  );
}
