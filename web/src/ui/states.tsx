import type { ReactNode } from 'react';
import { messageOf } from '../api/errors';

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <div className="center" role="status" aria-live="polite">
      {label}
    </div>
  );
}

export function ErrorState({ error, retry }: { error: unknown; retry?: () => void }) {
  return (
    <div className="empty">
      <div className="alert error" role="alert">
        {messageOf(error)}
      </div>
      {retry ? (
        <button type="button" className="button" onClick={retry}>
          Retry
        </button>
      ) : null}
    </div>
  );
}

export function FormError({ message }: { message: string | null }) {
  return message ? (
    <div className="alert error" role="alert">
      {message}
    </div>
  ) : null;
}

export function Brand() {
  return (
    <span className="brand">
      <span className="brand-mark" aria-hidden="true">
        T
      </span>
      Tooken
    </span>
  );
}

export function AuthCard({ title, children }: { title: string; children: ReactNode }) {
  return (
    <main className="auth-page">
      <div className="auth-card">
        <Brand />
        <h1>{title}</h1>
        {children}
      </div>
    </main>
  );
}
