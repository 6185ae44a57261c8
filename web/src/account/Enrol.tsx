import { useMutation } from '@tanstack/react-query';
import type { TookenClient } from '@tooken/client';
import QRCode from 'qrcode';
import { type FormEvent, useEffect, useState } from 'react';
import { formErrors } from '../api/errors';
import { TextField } from '../ui/Field';
import { FormError } from '../ui/states';
import { RecoveryCodes } from './RecoveryCodes';

/**
 * Turning two-factor on: a new secret (QR code and text) → a code of the app → Confirm → the
 * recovery codes, once. `onDone` runs after the person has seen the codes.
 */
export function Enrol({ client, onDone }: { client: TookenClient; onDone: () => void }) {
  const [code, setCode] = useState('');
  const [codes, setCodes] = useState<string[] | null>(null);
  const [qr, setQr] = useState<string | null>(null);
  const begin = useMutation({ mutationFn: () => client.me.twoFactor.begin() });
  const confirm = useMutation({
    mutationFn: () => client.me.twoFactor.confirm(code.replace(/\s+/g, '')),
    onSuccess: (answer) => {
      begin.reset();
      setCode('');
      setCodes(answer.recovery_codes);
    },
  });
  const uri = begin.data?.otpauth_uri;
  useEffect(() => {
    setQr(null);
    if (!uri) return;
    let current = true;
    QRCode.toDataURL(uri, { margin: 1, width: 200 }).then(
      (url) => current && setQr(url),
      () => current && setQr(null),
    );
    return () => {
      current = false;
    };
  }, [uri]);

  if (codes !== null) {
    return (
      <RecoveryCodes
        codes={codes}
        onDone={() => {
          setCodes(null);
          onDone();
        }}
      />
    );
  }
  if (!begin.data) {
    return (
      <div className="stack">
        <FormError message={begin.error ? formErrors(begin.error, []).form : null} />
        <p>
          Two-factor authentication asks for a code from an authenticator app (such as 1Password, Google
          Authenticator or Authy) each time you sign in, after your password.
        </p>
        <div className="actions">
          <button
            type="button"
            className="button primary"
            onClick={() => begin.mutate()}
            disabled={begin.isPending}
          >
            {begin.isPending ? 'Starting…' : 'Enable two-factor authentication'}
          </button>
        </div>
      </div>
    );
  }
  const submit = (event: FormEvent) => {
    event.preventDefault();
    confirm.mutate();
  };
  const errors = formErrors(confirm.error, ['code']);
  return (
    <form className="form" onSubmit={submit} noValidate aria-label="Confirm two-factor authentication">
      <p>1. Scan this QR code with your authenticator app, or enter the secret by hand.</p>
      <div className="qr">
        {qr ? <img src={qr} width={200} height={200} alt="QR code of the two-factor secret" /> : null}
      </div>
      <div className="field">
        <label htmlFor="two-factor-secret">Secret</label>
        <input
          id="two-factor-secret"
          className="input mono"
          readOnly
          value={begin.data.secret}
          onFocus={(event) => event.target.select()}
        />
      </div>
      <p>2. Enter the 6-digit code the app shows.</p>
      <FormError message={errors.form} />
      <TextField
        label="Authentication code"
        name="code"
        autoComplete="one-time-code"
        value={code}
        onChange={setCode}
        error={errors.fields.code}
        required
        autoFocus
      />
      <div className="actions">
        <button type="submit" className="button primary" disabled={confirm.isPending}>
          {confirm.isPending ? 'Confirming…' : 'Confirm'}
        </button>
      </div>
    </form>
  );
}
