import { defineComponent, type PropType } from "vue";

/** Reads an input's text in an event handler. */
export const valueOf = (e: Event): string => (e.target as HTMLInputElement | HTMLSelectElement).value;

export const ErrorBanner = defineComponent({
  props: { message: { type: String as PropType<string | undefined>, default: undefined } },
  setup(props) {
    return () => (props.message ? <p class="error" role="alert">{props.message}</p> : null);
  },
});

/** A labelled input with the server's message for this field next to it. */
export const Field = defineComponent({
  props: {
    id: { type: String, required: true },
    label: { type: String, required: true },
    value: { type: String, required: true },
    error: { type: String as PropType<string | undefined>, default: undefined },
    type: { type: String, default: "text" },
    onUpdate: { type: Function as PropType<(value: string) => void>, required: true },
  },
  setup(props) {
    return () => (
      <div class={["field", props.error ? "invalid" : ""]}>
        <label for={props.id}>{props.label}</label>
        <input
          id={props.id}
          name={props.id}
          type={props.type}
          value={props.value}
          aria-invalid={props.error ? "true" : "false"}
          aria-describedby={props.error ? `${props.id}-error` : undefined}
          onInput={(e: Event) => props.onUpdate(valueOf(e))}
        />
        {props.error ? (
          <span class="field-error" id={`${props.id}-error`} data-field-error={props.id}>
            {props.error}
          </span>
        ) : null}
      </div>
    );
  },
});

export const Pager = defineComponent({
  props: {
    page: { type: Number, required: true },
    pageCount: { type: Number, required: true },
    rowCount: { type: Number, required: true },
    onPage: { type: Function as PropType<(page: number) => void>, required: true },
  },
  setup(props) {
    return () => (
      <nav class="pager" aria-label="Pages">
        <button type="button" disabled={props.page <= 1} onClick={() => props.onPage(props.page - 1)}>
          Previous
        </button>
        <span class="pager-status">
          Page {props.page} of {Math.max(props.pageCount, 1)} · {props.rowCount} total
        </span>
        <button type="button" disabled={props.page >= props.pageCount} onClick={() => props.onPage(props.page + 1)}>
          Next
        </button>
      </nav>
    );
  },
});
