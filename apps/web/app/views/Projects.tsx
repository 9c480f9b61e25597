import { defineComponent, onMounted, ref } from "vue";
import type { Project } from "@altalune/proto";
import { useApp } from "../context.js";
import { navigate } from "../router.js";
import { PagedTable, SearchToolbar } from "./list-parts.js";
import { usePagedList } from "./paged-list.js";
import { ErrorBanner } from "./parts.js";

export const Projects = defineComponent({
  setup() {
    const { api } = useApp();
    const keyword = ref("");
    const list = usePagedList<Project>((pagination) => api.projects.queryProjects({ query: { pagination, keyword: keyword.value.trim() } }));
    onMounted(list.load);

    return () => (
      <section>
        <h1>Projects</h1>
        <SearchToolbar label="Search projects" keyword={keyword} onSearch={list.reload} />
        <ErrorBanner message={list.error.value} />
        <PagedTable list={list} colspan={5} emptyText="No projects found." showBusy>
          {{
            head: () => (
              <tr>
                <th>Name</th>
                <th>Description</th>
                <th>Environment</th>
                <th>Timezone</th>
                <th></th>
              </tr>
            ),
            default: () =>
              list.rows.value.map((p) => (
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
              )),
          }}
        </PagedTable>
      </section>
    );
  },
});
