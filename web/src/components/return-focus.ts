import { type SyntheticEvent, useCallback, useEffect, useRef } from 'react';

/**
 * Focus back on the button that opened a dialog once every dialog of a screen is closed again
 * (the Radix dialogs here are opened by state, not by a Radix trigger, so they do not know it).
 * Call `remember` from the opener's click; a chain of dialogs (New → the secret shown once) returns
 * to the first opener. An opener that is gone (its row was deleted) leaves the focus where it is.
 */
export function useReturnFocus(anyOpen: boolean): (event: SyntheticEvent<HTMLElement>) => void {
  const opener = useRef<HTMLElement | null>(null);
  useEffect(() => {
    if (anyOpen || opener.current === null) return;
    const element = opener.current;
    opener.current = null;
    if (element.isConnected) element.focus();
  }, [anyOpen]);
  return useCallback((event: SyntheticEvent<HTMLElement>) => {
    opener.current = event.currentTarget;
  }, []);
}
