import { useQuery } from '@tanstack/react-query';
import { lazy, Suspense, useMemo } from 'react';
import { Navigate, NavLink, Outlet, useLocation, useParams } from 'react-router';
import { sessionClient, signInPath, useMe } from '../api/session';
import { AuthCard, Brand, ErrorState, Loading } from '../ui/states';
import { SignOutButton } from './SignOutButton';
import { WorkspaceSwitcher } from './WorkspaceSwitcher';
import { WorkspaceContext, type WorkspaceState } from './workspace';

const TwoFactorRequired = lazy(() => import('../account/TwoFactorRequired'));

/**
 * The signed-in layout of a workspace (`/w/:slug/…`): the sidebar, and the page beside it. Signed
 * out (or the session ended), it goes to sign-in with the way back.
 */
export function Shell() {
  const { slug = '' } = useParams();
  const location = useLocation();
  const me = useMe();
  const workspace = me.data?.workspaces.find((w) => w.slug === slug);
  // The workspace requires two-factor and this person has not enrolled: it answers 403 until then.
  const blocked = workspace?.two_factor_required === true && me.data?.user.two_factor_enabled === false;
  const csrf = me.data?.csrf_token;
  const client = useMemo(() => (csrf ? sessionClient(csrf, slug) : null), [csrf, slug]);
  const settings = useQuery({
    queryKey: ['settings', slug],
    queryFn: () => (client as NonNullable<typeof client>).settings.get(),
    enabled: client !== null && workspace !== undefined && !blocked,
  });

  if (me.isPending) return <Loading />;
  if (me.isError) return <ErrorState error={me.error} retry={() => me.refetch()} />;
  if (!me.data || client === null)
    return <Navigate to={signInPath(location.pathname + location.search)} replace />;
  if (!workspace) {
    return (
      <AuthCard title="Workspace not found">
        <p>
          There is no workspace “{slug}” among yours. It may have been renamed, or you are no longer a member.
        </p>
        <a className="button" href="/">
          Go to your workspaces
        </a>
      </AuthCard>
    );
  }
  if (blocked) {
    return (
      <Suspense fallback={<Loading />}>
        <TwoFactorRequired workspace={workspace} />
      </Suspense>
    );
  }
  const state: WorkspaceState = {
    me: me.data,
    workspace,
    role: workspace.role,
    client,
    settings: settings.data,
  };
  const base = `/w/${encodeURIComponent(slug)}`;
  return (
    <WorkspaceContext.Provider value={state}>
      <div className="shell">
        <aside className="sidebar">
          <Brand />
          <WorkspaceSwitcher current={workspace} workspaces={me.data.workspaces} />
          <nav className="nav" aria-label="Workspace">
            <NavLink to={`${base}/tokens`}>Tokens</NavLink>
            <NavLink to={`${base}/settings`}>Settings</NavLink>
            <NavLink to={`${base}/account`}>Account</NavLink>
          </nav>
          <div className="sidebar-footer">
            <span className="user-email">{me.data.user.email}</span>
            <SignOutButton />
          </div>
        </aside>
        {/* Keyed by workspace: switching starts every page afresh (no filter or panel carries over). */}
        <main className="main" key={slug}>
          <Outlet />
        </main>
      </div>
    </WorkspaceContext.Provider>
  );
}
