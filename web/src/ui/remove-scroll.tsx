import { type ComponentType, forwardRef, type ReactNode, useEffect } from 'react';

/**
 * Stands in for `react-remove-scroll` inside the Radix primitives (aliased in vite.config.ts). The
 * original locks the page's scrolling by writing a `<style>` element, which the dashboard's
 * Content-Security-Policy (`style-src 'self'`) refuses. This one sets `overflow: hidden` on the
 * body through the style object, which the policy allows, and counts nested locks on the body.
 */
export const RemoveScroll = forwardRef<
  HTMLElement,
  {
    as?: ComponentType<Record<string, unknown>> | string;
    enabled?: boolean;
    children?: ReactNode;
    [prop: string]: unknown;
  }
>(function RemoveScroll(
  {
    as = 'div',
    enabled = true,
    children,
    allowPinchZoom: _pinch,
    shards: _shards,
    removeScrollBar: _bar,
    inert: _inert,
    noIsolation: _isolation,
    forwardProps: _forward,
    ...rest
  },
  ref,
) {
  useEffect(() => {
    if (!enabled) return;
    const body = document.body;
    const count = Number(body.dataset.scrollLocks ?? '0');
    if (count === 0) body.style.overflow = 'hidden';
    body.dataset.scrollLocks = String(count + 1);
    return () => {
      const left = Number(body.dataset.scrollLocks ?? '1') - 1;
      body.dataset.scrollLocks = String(left);
      if (left <= 0) {
        body.style.removeProperty('overflow');
        delete body.dataset.scrollLocks;
      }
    };
  }, [enabled]);
  const Element = as as ComponentType<Record<string, unknown>>;
  return (
    <Element {...rest} ref={ref}>
      {children}
    </Element>
  );
});
