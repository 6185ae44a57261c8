import { useMutation, useQueryClient } from '@tanstack/react-query';
import type { components } from '@tooken/client';
import { type FormEvent, useId, useState } from 'react';
import { formErrors } from '../../api/errors';
import { useWorkspace } from '../../layout/workspace';
import { Dialog } from '../../ui/Dialog';
import { TextField } from '../../ui/Field';
import { FormError } from '../../ui/states';
import { isTokenEvent, WEBHOOK_EVENTS, type WebhookEvent } from './events';

export type WebhookWithSecret = components['schemas']['WebhookWithSecret'];

/** The events a new endpoint starts with: what most receivers want to hear about. */
const PRESELECTED: WebhookEvent[] = ['token.created', 'token.revoked', 'token.rotated', 'token.expired'];

/** New Webhook: URL, an optional description and the events; the signing secret comes back once. */
export function NewWebhookDialog(props: {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  onCreated: (hook: WebhookWithSecret) => void;
}) {
  return (
    <Dialog
      open={props.open}
      onOpenChange={props.onOpenChange}
      title="New Webhook"
      description="Tooken sends each event as a signed POST. The signing secret is shown once, right after creation."
    >
      {props.open ? (
        <NewWebhookForm onCancel={() => props.onOpenChange(false)} onCreated={props.onCreated} />
      ) : null}
    </Dialog>
  );
}

function NewWebhookForm(props: { onCancel: () => void; onCreated: (hook: WebhookWithSecret) => void }) {
  const { client, workspace } = useWorkspace();
  const queryClient = useQueryClient();
  const ids = useId();
  const [url, setUrl] = useState('');
  const [description, setDescription] = useState('');
  const [events, setEvents] = useState<WebhookEvent[]>(PRESELECTED);
  const create = useMutation({
    mutationFn: () =>
      client.webhooks.create({
        url: url.trim(),
        events,
        ...(description.trim() ? { description: description.trim() } : {}),
      }),
    onSuccess: async (hook) => {
      await queryClient.invalidateQueries({ queryKey: ['webhooks', workspace.slug] });
      props.onCreated(hook);
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate();
  };
  const errors = formErrors(create.error, ['url', 'description', 'events']);
  // The server names the field `url`; people read "URL".
  const urlError = errors.fields.url?.replace(/^Url\b/, 'URL');
  const toggle = (name: WebhookEvent, on: boolean) =>
    setEvents((current) => (on ? [...current, name] : current.filter((e) => e !== name)));
  const groups = [
    { legend: 'Token events', events: WEBHOOK_EVENTS.filter(isTokenEvent) },
    { legend: 'Audit events', events: WEBHOOK_EVENTS.filter((e) => !isTokenEvent(e)) },
  ];
  return (
    <form className="form" onSubmit={submit} noValidate>
      <FormError message={errors.form} />
      <TextField
        label="URL"
        name="url"
        value={url}
        onChange={setUrl}
        error={urlError}
        hint="An https:// address that answers 2xx, e.g. https://hooks.example.com/tooken."
        autoFocus
        required
      />
      <TextField
        label="Description"
        name="description"
        value={description}
        onChange={setDescription}
        error={errors.fields.description}
        hint="Optional: what receives these events."
      />
      <div className="field">
        <fieldset
          className="event-picker"
          aria-describedby={errors.fields.events ? `${ids}-events-error` : undefined}
        >
          <legend className="label">Events</legend>
          {groups.map((group) => (
            <div key={group.legend} className="event-group">
              <span className="hint">{group.legend}</span>
              {group.events.map((name) => (
                <label key={name} className="check">
                  <input
                    type="checkbox"
                    checked={events.includes(name)}
                    onChange={(event) => toggle(name, event.target.checked)}
                  />
                  <code>{name}</code>
                  {name === 'token.used' ? <span className="hint">each use</span> : null}
                </label>
              ))}
            </div>
          ))}
        </fieldset>
        {errors.fields.events ? (
          <p className="field-error" id={`${ids}-events-error`}>
            {errors.fields.events}
          </p>
        ) : null}
      </div>
      <div className="actions">
        <button type="button" className="button" onClick={props.onCancel}>
          Cancel
        </button>
        <button type="submit" className="button primary" disabled={create.isPending}>
          {create.isPending ? 'Creating…' : 'Create webhook'}
        </button>
      </div>
    </form>
  );
}
