import { ref, shallowRef, type Ref, type ShallowRef } from "vue";
import { describeError } from "../errors.js";

/** Rows per page on every list view. */
export const PAGE_SIZE = 10;

export interface Pagination {
  page: number;
  pageSize: number;
}

/** The part of a Query* response a list view shows: one page of rows and the totals. */
export interface PageOf<T> {
  data: T[];
  meta?: { rowCount: number; pageCount: number } | undefined;
}

/** What PagedTable reads: everything but the row type, so a list of any rows fits. */
export interface PagedListState {
  readonly page: Readonly<Ref<number>>;
  readonly rows: Readonly<Ref<readonly unknown[]>>;
  readonly meta: Readonly<Ref<{ rowCount: number; pageCount: number }>>;
  readonly loading: Readonly<Ref<boolean>>;
  goTo(page: number): void;
}

export interface PagedList<T> extends PagedListState {
  readonly page: Ref<number>;
  readonly rows: ShallowRef<T[]>;
  /** The last failure of a load or of an action on the list, shown above the table. */
  readonly error: Ref<string | undefined>;
  /** Fetches the current page; a failure goes to `error`, a success clears it. */
  load(): Promise<void>;
  /** Back to the first page and fetch it: the search, filter or sorting changed. */
  reload(): void;
}

/** One server-paginated list: `fetchPage` asks the API for a page, with the view's own query. */
export function usePagedList<T>(fetchPage: (pagination: Pagination) => Promise<PageOf<T>>): PagedList<T> {
  const page = ref(1);
  const rows = shallowRef<T[]>([]);
  const meta = ref({ rowCount: 0, pageCount: 0 });
  const error = ref<string>();
  const loading = ref(false);

  const load = async () => {
    loading.value = true;
    try {
      const res = await fetchPage({ page: page.value, pageSize: PAGE_SIZE });
      rows.value = res.data;
      meta.value = { rowCount: res.meta?.rowCount ?? 0, pageCount: res.meta?.pageCount ?? 0 };
      error.value = undefined;
    } catch (e) {
      error.value = describeError(e);
    } finally {
      loading.value = false;
    }
  };
  const goTo = (p: number) => {
    page.value = p;
    void load();
  };
  return { page, rows, meta, error, loading, load, reload: () => goTo(1), goTo };
}
