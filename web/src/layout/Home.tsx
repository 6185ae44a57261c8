import { Navigate } from 'react-router';
import { useMe } from '../api/session';
import { CreateWorkspaceForm } from '../layout/CreateWorkspaceForm';
import { SignOutButton } from '../layout/SignOutButton';
import { AuthCard, ErrorState, Loading } from '../ui/states';

/** `/`: the first workspace, sign-in when signed out, or creating a first workspace. */
export function Home() {
  const me = useMe();
  if (me.isPending) return <Loading />;
  if (me.isError) return <ErrorState error={me.error} retry={() => me.refetch()} />;
  if (!me.data) return <Navigate to="/sign-in" replace />;
  const first = me.data.workspaces[0];
  if (first) return <Navigate to={`/w/${encodeURIComponent(first.slug)}/tokens`} replace />;
  return (
    <AuthCard title="Create your workspace">
      <p>
        A workspace holds your tokens, API keys, members and audit log. Name it after your team or project.
      </p>
      <CreateWorkspaceForm />
      <SignOutButton />
    </AuthCard>
  );
}

export function NotFound() {
  return (
    <AuthCard title="Page not found">
      <p>There is no page at this address.</p>
      <a className="button" href="/">
        Go to the dashboard
      </a>
    </AuthCard>
  );
}
