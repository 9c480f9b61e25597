import { defineComponent, onMounted, ref } from "vue";
import { timestampDate, timestampFromDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { ApiKey } from "@altalune/proto";
import { useApp } from "../context.js";
import { describeError, fieldErrors } from "../errors.js";
import { PagedTable } from "./list-parts.js";
import { usePagedList } from "./paged-list.js";
import { ErrorBanner, Field } from "./parts.js";

const DAY_MS = 86_400_000;

const day = (t: Timestamp | undefined): string => (t === undefined ? "—" : timestampDate(t).toISOString().slice(0, 10));
const inDays = (days: number): string => new Date(Date.now() + days * DAY_MS).toISOString().slice(0, 10);

export const ApiKeys = defineComponent({
  props: { projectId: { type: String, required: true } },
  setup(props) {
    const { api } = useApp();
    const list = usePagedList<ApiKey>((pagination) => api.apiKeys.queryApiKeys({ projectId: props.projectId, query: { pagination } }));
    const name = ref("");
    const expires = ref(inDays(90));
    const errors = ref<Record<string, string>>({});
    const formError = ref<string>();
    // The key's value is shown once, right after creation: the server keeps only its hash.
    const created = ref<{ name: string; value: string }>();

    const create = async (e: Event) => {
      e.preventDefault();
      errors.value = {};
      formError.value = undefined;
      const expiration = new Date(`${expires.value}T23:59:59Z`);
      if (Number.isNaN(expiration.getTime())) {
        errors.value = { expiration: "Enter a date." };
        return;
      }
      try {
        const res = await api.apiKeys.createApiKey({ projectId: props.projectId, name: name.value, expiration: timestampFromDate(expiration) });
        created.value = { name: name.value, value: res.keyValue };
        name.value = "";
        await list.load();
      } catch (err) {
        errors.value = fieldErrors(err);
        formError.value = describeError(err);
      }
    };
    const act = async (fn: () => Promise<unknown>) => {
      try {
        await fn();
        await list.load();
      } catch (err) {
        list.error.value = describeError(err);
      }
    };
    onMounted(list.load);

    return () => (
      <section>
        <h1>API keys</h1>
        <form class="panel" aria-label="New API key" onSubmit={create} novalidate>
          <Field id="name" label="Name" value={name.value} error={errors.value["name"]} onUpdate={(v: string) => (name.value = v)} />
          <Field id="expiration" label="Expires" type="date" value={expires.value} error={errors.value["expiration"]} onUpdate={(v: string) => (expires.value = v)} />
          <ErrorBanner message={formError.value} />
          <button type="submit" class="primary">
            Create key
          </button>
        </form>
        {created.value ? (
          <div class="notice" role="status" data-created-key>
            <p>
              Key <strong>{created.value.name}</strong> created. Copy it now: it will not be shown again.
            </p>
            <code class="secret">{created.value.value}</code>
            <button type="button" onClick={() => (created.value = undefined)}>
              Done
            </button>
          </div>
        ) : null}
        <ErrorBanner message={list.error.value} />
        <PagedTable list={list} colspan={5} emptyText="No API keys yet.">
          {{
            head: () => (
              <tr>
                <th>Name</th>
                <th>Status</th>
                <th>Expires</th>
                <th>Last used</th>
                <th></th>
              </tr>
            ),
            default: () =>
              list.rows.value.map((k) => (
                <tr key={k.id} data-api-key={k.name}>
                  <td>{k.name}</td>
                  <td>{k.status || (k.active ? "active" : "inactive")}</td>
                  <td>{day(k.expiration)}</td>
                  <td>{day(k.lastUsedAt)}</td>
                  <td class="actions">
                    {k.active ? (
                      <button type="button" onClick={() => act(() => api.apiKeys.deactivateApiKey({ projectId: props.projectId, apiKeyId: k.id }))}>
                        Deactivate
                      </button>
                    ) : (
                      <button type="button" onClick={() => act(() => api.apiKeys.activateApiKey({ projectId: props.projectId, apiKeyId: k.id }))}>
                        Activate
                      </button>
                    )}
                    <button type="button" class="danger" onClick={() => act(() => api.apiKeys.deleteApiKey({ projectId: props.projectId, apiKeyId: k.id }))}>
                      Delete
                    </button>
                  </td>
                </tr>
              )),
          }}
        </PagedTable>
      </section>
    );
  },
});
