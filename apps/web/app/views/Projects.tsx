import { defineComponent, onMounted, ref, shallowRef } from "vue";
import type { Project } from "@altalune/proto";
import { useApp } from "../context.js";
import { describeError } from "../errors.js";
import { navigate } from "../router.js";
import { ErrorBanner, Pager, valueOf } from "./parts.js";

const PAGE_SIZE = 10;

export const Projects = defineComponent({
  setup() {
    const { api } = useApp();
    const keyword = ref("");
    const page = ref(1);
    const rows = shallowRef<Project[]>([]);
    const meta = ref({ rowCount: 0, pageCount: 0 });
    const error = ref<string>();
    const loading = ref(false);

    const load = async () => {
      loading.value = true;
      try {
        const res = await api.projects.queryProjects({
          query: { pagination: { page: page.value, pageSize: PAGE_SIZE }, keyword: keyword.value.trim() },
        });
        rows.value = res.data;
        meta.value = { rowCount: res.meta?.rowCount ?? 0, pageCount: res.meta?.pageCount ?? 0 };
        error.value = undefined;
      } catch (e) {
        error.value = describeError(e);
      } finally {
        loading.value = false;
      }
    };
    const search = (e: Event) => {
      e.preventDefault();
      page.value = 1;
      void load();
    };
    onMounted(load);

    return () => (
      <section>
        <h1>Projects</h1>
        <form class="toolbar" role="search" onSubmit={search}>
          <input
            type="search"
            name="keyword"
            placeholder="Search projects"
            aria-label="Search projects"
            value={keyword.value}
            onInput={(e: Event) => (keyword.value = valueOf(e))}
          />
          <button type="submit">Search</button>
        </form>
        <ErrorBanner message={error.value} />
        <table aria-busy={loading.value ? "true" : "false"}>
          <thead>
            <tr>
              <th>Name</th>
              <th>Description</th>
              <th>Environment</th>
              <th>Timezone</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            {rows.value.map((p) => (
              <tr key={p.id} data-project={p.id}>
                <td>
                  {p.name}
                  {p.isDefault ? <span class="badge">default</span> : null}
                </td>
                <td>{p.description}</td>
                <td>{p.environment}</td>
                <td>{p.timezone}</td>
                <td class="actions">
                  <a href={`/projects/${p.id}/employees`} onClick={(e: MouseEvent) => (e.preventDefault(), navigate(`/projects/${p.id}/employees`))}>
                    Employees
                  </a>
                  <a href={`/projects/${p.id}/api-keys`} onClick={(e: MouseEvent) => (e.preventDefault(), navigate(`/projects/${p.id}/api-keys`))}>
                    API keys
                  </a>
                </td>
              </tr>
            ))}
            {rows.value.length === 0 && !loading.value ? (
              <tr>
                <td colspan={5} class="empty">
                  No projects found.
                </td>
              </tr>
            ) : null}
          </tbody>
        </table>
        <Pager
          page={page.value}
          pageCount={meta.value.pageCount}
          rowCount={meta.value.rowCount}
          onPage={(p: number) => {
            page.value = p;
            void load();
          }}
        />
      </section>
    );
  },
});
