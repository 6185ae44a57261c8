import { useRouteError } from 'react-router';
import { AuthCard } from '../ui/states';

/** A page that failed to load or render (a lost connection while loading a screen, a bug). */
export function RouteError() {
  const error = useRouteError();
  const message = error instanceof Error ? error.message : 'The page could not be shown.';
  return (
    <AuthCard title="Something went wrong">
      <div className="alert error" role="alert">
        {message}
      </div>
      <a className="button" href={window.location.pathname}>
        Reload the page
      </a>
    </AuthCard>
  );
}
