import { useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { Link, Navigate, useNavigate, useSearchParams } from 'react-router';
import { formErrors } from '../api/errors';
import { anonymousClient, refreshSession, safeNext, useMe } from '../api/session';
import { TextField } from '../ui/Field';
import { AuthCard, FormError, Loading } from '../ui/states';

const TWO_FACTOR =
  'This account signs in with a two-factor code, which this page does not ask for yet: use the API or the CLI.';
const NO_COOKIE = 'Signing in did not start a session: allow cookies for this site, then retry.';

export function SignIn() {
  const [params] = useSearchParams();
  const next = safeNext(params.get('next'));
  const me = useMe();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const [email, setEmail] = useState('');
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
      const answer: object = await anonymousClient().auth.login({ email, password });
      if ('two_factor_required' in answer && answer.two_factor_required === true) {
        throw new Error(TWO_FACTOR);
      }
      // A browser that refuses the session cookie comes back signed out: say so, not nothing.
      if ((await refreshSession(queryClient)) === null) throw new Error(NO_COOKIE);
      navigate(next, { replace: true });
    } catch (caught) {
      setError(caught);
      setBusy(false);
    }
  };
  const local = error instanceof Error && (error.message === TWO_FACTOR || error.message === NO_COOKIE);
  const errors = local
    ? { fields: {}, form: (error as Error).message }
    : formErrors(error, ['email', 'password']);
  return (
    <AuthCard title="Sign in">
      {params.has('next') ? (
        <div className="alert info" role="status">
          Sign in to continue.
        </div>
      ) : null}
      <form className="form" onSubmit={submit} noValidate>
        <FormError message={errors.form} />
        <TextField
          label="Email"
          name="email"
          type="email"
          autoComplete="email"
          value={email}
          onChange={setEmail}
          error={errors.fields.email}
          required
          autoFocus
        />
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
        <button type="submit" className="button primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      <p className="hint">
        New here? <Link to={`/sign-up${params.size > 0 ? `?${params}` : ''}`}>Sign up</Link>
      </p>
    </AuthCard>
  );
}
