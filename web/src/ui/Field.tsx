import { type ReactNode, useId } from 'react';

/**
 * A labelled form field with its hint and the server's message for it. The control gets the ids
 * it needs through the render function, so the label, hint and error are announced with it.
 */
export function Field(props: {
  label: string;
  error?: string | undefined;
  hint?: ReactNode;
  children: (ids: { id: string; describedBy: string | undefined; invalid: boolean }) => ReactNode;
}) {
  const id = useId();
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const describedBy =
    [props.hint ? hintId : null, props.error ? errorId : null].filter(Boolean).join(' ') || undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{props.label}</label>
      {props.children({ id, describedBy, invalid: Boolean(props.error) })}
      {props.hint ? (
        <span className="hint" id={hintId}>
          {props.hint}
        </span>
      ) : null}
      {props.error ? (
        <p className="field-error" id={errorId}>
          {props.error}
        </p>
      ) : null}
    </div>
  );
}

/** A plain text input inside a `Field`. */
export function TextField(props: {
  label: string;
  name: string;
  value: string;
  onChange: (value: string) => void;
  error?: string | undefined;
  hint?: ReactNode;
  type?: 'text' | 'email' | 'password' | 'number' | 'search';
  autoComplete?: string;
  required?: boolean;
  autoFocus?: boolean;
  min?: number;
  max?: number;
}) {
  return (
    <Field label={props.label} error={props.error} hint={props.hint}>
      {({ id, describedBy, invalid }) => (
        <input
          id={id}
          className="input"
          name={props.name}
          type={props.type ?? 'text'}
          value={props.value}
          onChange={(event) => props.onChange(event.target.value)}
          aria-describedby={describedBy}
          aria-invalid={invalid}
          autoComplete={props.autoComplete}
          required={props.required}
          // biome-ignore lint/a11y/noAutofocus: the first field of a page or dialog the person opened
          autoFocus={props.autoFocus}
          min={props.min}
          max={props.max}
        />
      )}
    </Field>
  );
}
