import { useMutation, useQueryClient } from '@tanstack/react-query';
import type { Webhook } from '@tooken/client';
import { useState } from 'react';
import { messageOf } from '../../api/errors';
import { canWrite, useWorkspace } from '../../layout/workspace';
import { formatInstant } from '../audit/time';
import { ConfirmDialog } from './ConfirmDialog';
import { Deliveries } from './Deliveries';
import type { WebhookWithSecret } from './NewWebhookDialog';
import { WebhookStatus } from './WebhookStatus';

/**
 * One endpoint: what it carries, its deliveries, and for Owners and Admins Rotate secret, Send
 * test event, Disable/Enable and Delete (the lasting ones behind a confirmation).
 */
export function WebhookDetails(props: {
  hook: Webhook;
  onRotated: (hook: WebhookWithSecret) => void;
  onDeleted: () => void;
  onClose: () => void;
}) {
  const { client, role, settings, workspace } = useWorkspace();
  const queryClient = useQueryClient();
  const [confirm, setConfirm] = useState<'rotate' | 'delete' | null>(null);
  const { hook } = props;
  const zone = settings?.timezone ?? 'UTC';
  const writer = canWrite(role);
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['webhooks', workspace.slug] });

  const rotate = useMutation({
    mutationFn: () => client.webhooks.rotateSecret(hook.id),
    onSuccess: async (rotated) => {
      setConfirm(null);
      await refresh();
      props.onRotated(rotated);
    },
  });
  const remove = useMutation({
    mutationFn: () => client.webhooks.delete(hook.id),
    onSuccess: async () => {
      setConfirm(null);
      props.onDeleted();
      await refresh();
    },
  });
  const test = useMutation({
    mutationFn: () => client.webhooks.test(hook.id),
    onSettled: refresh,
  });
  const toggle = useMutation({
    mutationFn: () => client.webhooks.update(hook.id, { enabled: !hook.enabled }),
    onSettled: refresh,
  });
  const failure = [test, toggle].find((m) => m.isError)?.error;

  return (
    <>
      <section className="card" aria-labelledby="webhook-title">
        <div className="card-header">
          <h2 id="webhook-title" className="webhook-url">
            {hook.url}
          </h2>
          <button type="button" className="button small ghost" onClick={props.onClose}>
            Close
          </button>
        </div>
        <div className="card-body webhook-body">
          <dl className="details">
            <dt>Status</dt>
            <dd>
              <WebhookStatus hook={hook} timeZone={zone} />
            </dd>
            {hook.description ? (
              <>
                <dt>Description</dt>
                <dd>{hook.description}</dd>
              </>
            ) : null}
            <dt>Events</dt>
            <dd>
              <span className="chips">
                {hook.events.map((event) => (
                  <span key={event} className="chip">
                    {event}
                  </span>
                ))}
              </span>
            </dd>
            <dt>Created</dt>
            <dd>{formatInstant(hook.created_at, zone)}</dd>
            <dt>Updated</dt>
            <dd>{formatInstant(hook.updated_at, zone)}</dd>
          </dl>
          {failure ? (
            <div className="alert error" role="alert">
              {messageOf(failure)}
            </div>
          ) : null}
          {test.isSuccess ? (
            <p className="hint" role="status">
              A ping event is on its way: it appears in Deliveries below.
            </p>
          ) : null}
          {writer ? (
            <div className="inline">
              <button type="button" className="button" onClick={() => setConfirm('rotate')}>
                Rotate secret
              </button>
              <button
                type="button"
                className="button"
                disabled={test.isPending || !hook.enabled}
                onClick={() => test.mutate()}
              >
                Send test event
              </button>
              <button
                type="button"
                className="button"
                disabled={toggle.isPending}
                onClick={() => toggle.mutate()}
              >
                {hook.enabled ? 'Disable' : 'Enable'}
              </button>
              <button type="button" className="button danger" onClick={() => setConfirm('delete')}>
                Delete
              </button>
            </div>
          ) : null}
        </div>
      </section>
      <Deliveries hook={hook} />
      <ConfirmDialog
        open={confirm === 'rotate'}
        title="Rotate the signing secret?"
        description="A new secret is made and shown once. The old one keeps signing alongside it for 24 hours, so the receiver can switch over."
        action="Rotate secret"
        pendingAction="Rotating…"
        pending={rotate.isPending}
        error={rotate.error}
        onConfirm={() => rotate.mutate()}
        onCancel={() => {
          rotate.reset();
          setConfirm(null);
        }}
      />
      <ConfirmDialog
        open={confirm === 'delete'}
        title="Delete this webhook?"
        description={`No more events are sent to ${hook.url}. This cannot be undone.`}
        action="Delete webhook"
        pendingAction="Deleting…"
        danger
        pending={remove.isPending}
        error={remove.error}
        onConfirm={() => remove.mutate()}
        onCancel={() => {
          remove.reset();
          setConfirm(null);
        }}
      />
    </>
  );
}
