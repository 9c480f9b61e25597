import { defineComponent, type PropType, type Ref, type SlotsType, type VNode, type VNodeChild } from "vue";
import type { PagedListState } from "./paged-list.js";
import { Pager, valueOf } from "./parts.js";

/**
 * The search form above a list: a keyword box and its Search button. The default slot adds the
 * view's own controls (filters, a "New" button) after them.
 */
export const SearchToolbar = defineComponent({
  props: {
    /** The search box's accessible name, e.g. "Search projects"; also its placeholder unless one is given. */
    label: { type: String, required: true },
    placeholder: { type: String, default: undefined },
    /** The view's keyword, which the search box edits; the view's query reads it. */
    keyword: { type: Object as PropType<Ref<string>>, required: true },
    onSearch: { type: Function as PropType<() => void>, required: true },
  },
  slots: Object as SlotsType<{ default?: () => VNode[] }>,
  setup(props, { slots }) {
    const submit = (e: Event) => {
      e.preventDefault();
      props.onSearch();
    };
    // One flat list of children: an absent slot leaves no placeholder node in the form.
    return () => (
      <form class="toolbar" role="search" onSubmit={submit}>
        {[
          <input
            type="search"
            name="keyword"
            placeholder={props.placeholder ?? props.label}
            aria-label={props.label}
            value={props.keyword.value}
            onInput={(e: Event) => (props.keyword.value = valueOf(e))}
          />,
          <button type="submit">Search</button>,
          ...(slots.default?.() ?? []),
        ]}
      </form>
    );
  },
});

/**
 * A page of a usePagedList list as a table, with a row saying so when there is none, and the
 * pager under it. The `head` slot renders the header row, the default slot the rows.
 */
export const PagedTable = defineComponent({
  props: {
    list: { type: Object as PropType<PagedListState>, required: true },
    /** Columns the "nothing here" row spans. */
    colspan: { type: Number, required: true },
    emptyText: { type: String, required: true },
    /** Marks the table aria-busy while a page loads, and holds the empty row back until it is in. */
    showBusy: { type: Boolean, default: false },
  },
  slots: Object as SlotsType<{ head: () => VNodeChild; default: () => VNodeChild }>,
  setup(props, { slots }) {
    return () => {
      const { list } = props;
      const busy = props.showBusy && list.loading.value;
      return [
        <table aria-busy={props.showBusy ? (busy ? "true" : "false") : undefined}>
          <thead>{slots.head()}</thead>
          <tbody>
            {slots.default()}
            {list.rows.value.length === 0 && !busy ? (
              <tr>
                <td colspan={props.colspan} class="empty">
                  {props.emptyText}
                </td>
              </tr>
            ) : null}
          </tbody>
        </table>,
        <Pager page={list.page.value} pageCount={list.meta.value.pageCount} rowCount={list.meta.value.rowCount} onPage={list.goTo} />,
      ];
    };
  },
});
