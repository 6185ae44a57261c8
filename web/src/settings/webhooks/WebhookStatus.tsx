import type { Webhook } from '@tooken/client';
import { formatInstant } from '../audit/time';

/** Enabled, Disabled, or Failing since when the endpoint has not answered 2xx for a while. */
export function WebhookStatus({ hook, timeZone }: { hook: Webhook; timeZone: string }) {
  if (!hook.enabled) return <span className="badge delivery-failed">Disabled</span>;
  if (hook.failing_since)
    return (
      <span className="badge delivery-pending">
        Failing since {formatInstant(hook.failing_since, timeZone)}
      </span>
    );
  return <span className="badge delivery-succeeded">Enabled</span>;
}
