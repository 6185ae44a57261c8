import { useMutation, useQueryClient } from '@tanstack/react-query';
import type { Settings } from '@tooken/client';
import { type FormEvent, useState } from 'react';
import { RadioOption } from '../../components/RadioOption';
import { useWorkspace } from '../../layout/workspace';
import { FormError } from '../../ui/states';
import { settingsFormErrors } from '../field-errors';
import { LEAK_POLICIES, type LeakPolicy } from './leak-policy';

/** What a reported leaked secret of this workspace does (Owner). */
export function LeakPolicyForm({ settings }: { settings: Settings }) {
  const { client, workspace } = useWorkspace();
  const queryClient = useQueryClient();
  const [policy, setPolicy] = useState<LeakPolicy>(settings.leak_policy);
  const save = useMutation({
    mutationFn: () => client.settings.update({ leak_policy: policy }),
    onSuccess: (updated) => queryClient.setQueryData(['settings', workspace.slug], updated),
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate();
  };
  const errors = settingsFormErrors(save.error, ['leak_policy']);
  return (
    <form className="form" onSubmit={submit} noValidate aria-label="Leak policy">
      <FormError message={errors.form ?? errors.fields.leak_policy ?? null} />
      <div className="field">
        <fieldset>
          <legend className="sr-only">When a secret is reported leaked</legend>
          {LEAK_POLICIES.map((p) => (
            <RadioOption
              key={p.value}
              name="leak_policy"
              value={p.value}
              label={p.label}
              hint={p.hint}
              checked={policy === p.value}
              onSelect={() => setPolicy(p.value)}
            />
          ))}
        </fieldset>
      </div>
      <div className="actions">
        <p className="hint" role="status" aria-live="polite">
          {save.isSuccess && policy === settings.leak_policy ? 'Leak policy saved.' : ''}
        </p>
        <button
          type="submit"
          className="button primary"
          disabled={save.isPending || policy === settings.leak_policy}
        >
          {save.isPending ? 'Saving…' : 'Save leak policy'}
        </button>
      </div>
    </form>
  );
}
