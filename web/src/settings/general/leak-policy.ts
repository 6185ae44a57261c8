import type { Settings } from '@tooken/client';

export type LeakPolicy = Settings['leak_policy'];

/** What each leak policy does, in the words the General tab shows. */
export const LEAK_POLICIES: readonly { value: LeakPolicy; label: string; hint: string }[] = [
  {
    value: 'revoke',
    label: 'Revoke at once',
    hint: 'A reported secret (token or API key) stops working immediately; the leak is recorded and announced.',
  },
  {
    value: 'notify',
    label: 'Notify only',
    hint: 'A reported secret keeps working; the leak is only recorded in the audit log and announced by webhook.',
  },
];

export const leakPolicyLabel = (policy: LeakPolicy) =>
  LEAK_POLICIES.find((p) => p.value === policy)?.label ?? policy;
