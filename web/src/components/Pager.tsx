import { useEffect } from 'react';

/**
 * Previous / Next under a list, with where one is: "Page 1 of 3 · 52 members". `page` is 1-based;
 * `noun` is [singular, plural]. `shownPage` is the page of the rows on screen when it lags behind
 * `page` (the previous page stays while the next loads, marked `busy`); `always` keeps the line
 * on a single page too.
 */
export function Pager(props: {
  page: number;
  perPage: number;
  total: number;
  noun: readonly [string, string];
  label: string;
  onPage: (page: number) => void;
  shownPage?: number;
  busy?: boolean;
  always?: boolean;
}) {
  const pages = Math.max(1, Math.ceil(props.total / props.perPage));
  if (pages <= 1 && !props.always) return null;
  return (
    <nav className="pagination" aria-label={props.label}>
      <span>
        Page {Math.min(props.shownPage ?? props.page, pages)} of {pages} · {props.total}{' '}
        {props.total === 1 ? props.noun[0] : props.noun[1]}
      </span>
      <span className="inline">
        {props.busy ? <span className="hint">Loading…</span> : null}
        <button
          type="button"
          className="button small"
          disabled={props.page <= 1}
          onClick={() => props.onPage(props.page - 1)}
        >
          Previous
        </button>
        <button
          type="button"
          className="button small"
          disabled={props.page >= pages}
          onClick={() => props.onPage(props.page + 1)}
        >
          Next
        </button>
      </span>
    </nav>
  );
}

/** Steps back a page when the one shown became empty (its last row was deleted). */
export function useClampPage(page: number, rows: number | undefined, setPage: (page: number) => void) {
  useEffect(() => {
    if (rows === 0 && page > 1) setPage(page - 1);
  }, [rows, page, setPage]);
}
