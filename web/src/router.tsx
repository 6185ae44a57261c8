import { createBrowserRouter, Navigate } from 'react-router';
import { AcceptInvitation } from './auth/AcceptInvitation';
import { SignIn } from './auth/SignIn';
import { SignUp } from './auth/SignUp';
import { Home, NotFound } from './layout/Home';
import { RouteError } from './layout/RouteError';
import { Loading } from './ui/states';

/**
 * Every page of the dashboard. The pages before sign-in are in the first download; the signed-in
 * app (layout, Tokens, Settings) loads when first opened, keeping the sign-in page small.
 */
export function createAppRouter() {
  return createBrowserRouter([
    {
      errorElement: <RouteError />,
      // Shown while a lazily loaded screen arrives on a first visit (a deep link).
      hydrateFallbackElement: <Loading />,
      children: [
        { path: '/', element: <Home /> },
        { path: '/sign-in', element: <SignIn /> },
        { path: '/sign-up', element: <SignUp /> },
        { path: '/invitations/accept', element: <AcceptInvitation /> },
        {
          path: '/forgot-password',
          lazy: async () => ({ Component: (await import('./auth/ForgotPassword')).ForgotPassword }),
        },
        {
          path: '/reset-password',
          lazy: async () => ({ Component: (await import('./auth/ResetPassword')).ResetPassword }),
        },
        {
          path: '/w/:slug',
          lazy: async () => ({ Component: (await import('./layout/Shell')).Shell }),
          children: [
            { index: true, element: <Navigate to="tokens" replace /> },
            {
              path: 'tokens',
              lazy: async () => ({ Component: (await import('./tokens/TokensPage')).TokensPage }),
            },
            {
              path: 'account',
              lazy: async () => ({ Component: (await import('./account/AccountPage')).AccountPage }),
            },
            {
              path: 'settings/:tab?',
              lazy: async () => ({ Component: (await import('./settings/SettingsPage')).SettingsPage }),
            },
          ],
        },
        { path: '*', element: <NotFound /> },
      ],
    },
  ]);
}
