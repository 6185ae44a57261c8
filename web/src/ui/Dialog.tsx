import * as RadixDialog from '@radix-ui/react-dialog';
import { type ReactNode, useRef } from 'react';

/** A dialog's element, carrying where its focus goes back to (read by a dialog opened from it). */
type DialogElement = HTMLElement & { returnFocusTo?: HTMLElement | null };

/**
 * Where the focus goes back when a dialog opening now closes: the element that has the focus (the
 * button that opened it), and, for a dialog that replaces another one (New → the secret shown
 * once), the element the other dialog would have gone back to.
 */
function openers(): { own: HTMLElement | null; inherited: HTMLElement | null } {
  const active = document.activeElement;
  const own = active instanceof HTMLElement && active !== document.body ? active : null;
  const dialog = (own?.closest('[role="dialog"]') ??
    document.querySelector('[role="dialog"]')) as DialogElement | null;
  return { own, inherited: dialog?.returnFocusTo ?? null };
}

/**
 * Every dialog of the dashboard: Radix traps focus inside, Escape closes, focus returns to what
 * opened it. `panel` slides it to the right edge (a detail panel).
 *
 * Radix returns the focus only to its own Trigger element; these dialogs open from state, so the
 * opener is noted when the dialog opens and focused again when it closes — unless it is gone (its
 * row was deleted) or another dialog that does not contain it is open by then.
 */
export function Dialog(props: {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  title: string;
  description?: ReactNode;
  panel?: boolean;
  children: ReactNode;
}) {
  const opener = useRef<{ own: HTMLElement | null; inherited: HTMLElement | null } | null>(null);
  const wasOpen = useRef(false);
  // Noted while rendering the opening: by the time an effect runs, a field inside has the focus.
  if (props.open && !wasOpen.current) opener.current = openers();
  wasOpen.current = props.open;
  return (
    <RadixDialog.Root open={props.open} onOpenChange={props.onOpenChange}>
      <RadixDialog.Portal>
        <RadixDialog.Overlay className="overlay" />
        <RadixDialog.Content
          ref={(element: DialogElement | null) => {
            if (element) element.returnFocusTo = returnTarget(opener.current);
          }}
          className={props.panel ? 'dialog panel' : 'dialog'}
          {...(props.description ? {} : { 'aria-describedby': undefined })}
          onCloseAutoFocus={(event) => {
            const target = returnTarget(opener.current);
            opener.current = null;
            const other = document.querySelector('[role="dialog"]');
            if (target && (other === null || other.contains(target))) {
              event.preventDefault();
              target.focus();
            }
          }}
        >
          <RadixDialog.Title className="dialog-title">{props.title}</RadixDialog.Title>
          {props.description ? (
            <RadixDialog.Description className="dialog-description">
              {props.description}
            </RadixDialog.Description>
          ) : null}
          {props.children}
        </RadixDialog.Content>
      </RadixDialog.Portal>
    </RadixDialog.Root>
  );
}

/** The opener still on the page: its own, or else the one it inherited from a dialog it replaced. */
function returnTarget(opener: { own: HTMLElement | null; inherited: HTMLElement | null } | null) {
  if (opener?.own?.isConnected) return opener.own;
  if (opener?.inherited?.isConnected) return opener.inherited;
  return null;
}

export const DialogClose = RadixDialog.Close;
