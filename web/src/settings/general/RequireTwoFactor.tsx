import { useMutation, useQueryClient } from '@tanstack/react-query';
import type { Settings } from '@tooken/client';
import { Link } from 'react-router';
import { ME_KEY } from '../../api/session';
import { useWorkspace } from '../../layout/workspace';
import { FormError } from '../../ui/states';
import { settingsFormErrors } from '../field-errors';
import './require-two-factor.css';

/**
 * Require two-factor authentication (Owner): members without it cannot open the workspace in the
 * dashboard until they enrol. The server refuses it to an Owner without two-factor, and says so.
 */
export function RequireTwoFactor({ settings }: { settings: Settings }) {
  const { client, workspace, me } = useWorkspace();
  const queryClient = useQueryClient();
  const save = useMutation({
    mutationFn: (on: boolean) => client.settings.update({ require_two_factor: on }),
    onSuccess: (updated) => {
      queryClient.setQueryData(['settings', workspace.slug], updated);
      queryClient.invalidateQueries({ queryKey: ME_KEY });
    },
  });
  const errors = settingsFormErrors(save.error, ['require_two_factor']);
  return (
    <div className="form">
      <FormError message={errors.form ?? errors.fields.require_two_factor ?? null} />
      <label className="checkbox">
        <input
          type="checkbox"
          checked={settings.require_two_factor}
          disabled={save.isPending}
          onChange={(event) => save.mutate(event.target.checked)}
          aria-describedby="require-two-factor-hint"
        />{' '}
        Require two-factor authentication
      </label>
      <p className="hint" id="require-two-factor-hint">
        Members without two-factor authentication cannot open this workspace in the dashboard until they turn
        it on (the dashboard walks them through it). API keys are not affected.
        {me.user.two_factor_enabled ? null : (
          <>
            {' '}
            You need two-factor on your own account to require it:{' '}
            <Link to={`/w/${encodeURIComponent(workspace.slug)}/account`}>turn it on in Account</Link>.
          </>
        )}
      </p>
      <p className="hint" role="status" aria-live="polite">
        {save.isSuccess
          ? settings.require_two_factor
            ? 'Two-factor is now required.'
            : 'Two-factor is no longer required.'
          : ''}
      </p>
    </div>
  );
}
