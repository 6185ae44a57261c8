import { MutationCache, QueryCache, QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { TookenError } from '@tooken/client';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { RouterProvider } from 'react-router';
import { isSignedOut, ME_KEY } from './api/session';
import { createAppRouter } from './router';
import './styles.css';

/**
 * A 401 from any call means the session ended (expired, signed out elsewhere): forgetting the
 * person sends every signed-in page to sign-in with `?next=` (layout/Shell.tsx), and back after.
 */
const queryClient: QueryClient = new QueryClient({
  queryCache: new QueryCache({ onError: (error) => signedOut(error) }),
  mutationCache: new MutationCache({ onError: (error) => signedOut(error) }),
  defaultOptions: {
    queries: { retry: (count, error) => !isSignedOut(error) && count < 1, refetchOnWindowFocus: true },
  },
});

function signedOut(error: unknown): void {
  if (isSignedOut(error)) queryClient.setQueryData(ME_KEY, null);
  // A workspace began requiring two-factor: reading the session again shows the enrolment page.
  if (error instanceof TookenError && error.code === 'two_factor_required') {
    queryClient.invalidateQueries({ queryKey: ME_KEY });
  }
}

const root = document.getElementById('root');
if (root) {
  createRoot(root).render(
    <StrictMode>
      <QueryClientProvider client={queryClient}>
        <RouterProvider router={createAppRouter()} />
      </QueryClientProvider>
    </StrictMode>,
  );
}
