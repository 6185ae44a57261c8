import * as RadixDialog from '@radix-ui/react-dialog';
import type { ReactNode } from 'react';

/**
 * Every dialog of the dashboard: Radix traps focus inside, Escape closes, focus returns to what
 * opened it. `panel` slides it to the right edge (a detail panel).
 */
export function Dialog(props: {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  title: string;
  description?: ReactNode;
  panel?: boolean;
  children: ReactNode;
}) {
  return (
    <RadixDialog.Root open={props.open} onOpenChange={props.onOpenChange}>
      <RadixDialog.Portal>
        <RadixDialog.Overlay className="overlay" />
        <RadixDialog.Content
          className={props.panel ? 'dialog panel' : 'dialog'}
          {...(props.description ? {} : { 'aria-describedby': undefined })}
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

export const DialogClose = RadixDialog.Close;
