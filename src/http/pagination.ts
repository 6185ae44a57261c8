import type { PageOf, PageRequest } from '../db/paginate.js';

/** The page a list route was asked for (`?page=&per_page=`, defaults 1 and 25). */
export function pageOf(query: { page?: number | undefined; per_page?: number | undefined }): PageRequest {
  return { page: query.page ?? 1, perPage: query.per_page ?? 25 };
}

/** A list response: `{ data, meta: { page, per_page, total } }`. */
export function listBody<T>({ rows, total }: PageOf<T>, { page, perPage }: PageRequest) {
  return { data: rows, meta: { page, per_page: perPage, total } };
}
