import { useMutation, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { messageOf } from '../api/errors';
import { refreshSession, sessionClient, useMe } from '../api/session';
import { SignOutButton } from '../layout/SignOutButton';
import { AuthCard, ErrorState, Loading } from '../ui/states';

const TOKEN = /^[A-Za-z0-9_-]{20,200}$/;

/**
 * Where an invitation link lands (`/invitations/accept?token=…`). Signed out: sign in or sign up
 * with the invited address, then come back here. Signed in: accept, and go to the workspace.
 */
export function AcceptInvitation() {
  const [params] = useSearchParams();
  const raw = params.get('token') ?? '';
  const token = TOKEN.test(raw) ? raw : null;
  const me = useMe();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const accept = useMutation({
    mutationFn: async () => {
      if (!me.data || token === null) throw new Error('not ready');
      return sessionClient(me.data.csrf_token).invitations.accept(token);
    },
    onSuccess: async ({ workspace }) => {
      await refreshSession(queryClient);
      navigate(`/w/${encodeURIComponent(workspace.slug)}/tokens`, { replace: true });
    },
  });

  if (token === null) {
    return (
      <AuthCard title="Join a workspace">
        <div className="alert error" role="alert">
          This invitation link is incomplete. Open the link from your invitation email again.
        </div>
      </AuthCard>
    );
  }
  if (me.isPending) return <Loading />;
  if (me.isError) return <ErrorState error={me.error} retry={() => me.refetch()} />;
  const here = `/invitations/accept?token=${encodeURIComponent(token)}`;
  if (!me.data) {
    const next = encodeURIComponent(here);
    return (
      <AuthCard title="Join a workspace">
        <p>
          You have been invited to a workspace on Tooken. Sign in, or sign up with the address the invitation
          was sent to.
        </p>
        <div className="inline">
          <Link
            className="button primary"
            to={`/sign-up?invitation=${encodeURIComponent(token)}&next=${next}`}
          >
            Sign up
          </Link>
          <Link className="button" to={`/sign-in?next=${next}`}>
            Sign in
          </Link>
        </div>
        <p className="hint">The link works once and expires 7 days after it was sent.</p>
      </AuthCard>
    );
  }
  return (
    <AuthCard title="Join a workspace">
      <p>
        You are signed in as <strong>{me.data.user.email}</strong>. Accept the invitation to join the
        workspace.
      </p>
      {accept.isError ? (
        <div className="alert error" role="alert">
          {messageOf(accept.error)}
        </div>
      ) : null}
      <div className="inline">
        <button
          type="button"
          className="button primary"
          disabled={accept.isPending}
          onClick={() => accept.mutate()}
        >
          {accept.isPending ? 'Accepting…' : 'Accept invitation'}
        </button>
        <SignOutButton next={here} label="Use another account" />
      </div>
    </AuthCard>
  );
}
