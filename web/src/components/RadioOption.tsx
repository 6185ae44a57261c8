import { useId } from 'react';

/**
 * A radio button with its label and, below, a hint that describes it without being part of its
 * name (so "Team" is found as "Team", not as its whole explanation).
 */
export function RadioOption(props: {
  name: string;
  value: string;
  label: string;
  hint: string;
  checked: boolean;
  onSelect: () => void;
}) {
  const id = useId();
  return (
    <div className="radio-option">
      <input
        id={id}
        type="radio"
        name={props.name}
        value={props.value}
        checked={props.checked}
        onChange={props.onSelect}
        aria-describedby={`${id}-hint`}
      />
      <div>
        <label htmlFor={id}>{props.label}</label>
        <span className="hint block" id={`${id}-hint`}>
          {props.hint}
        </span>
      </div>
    </div>
  );
}
