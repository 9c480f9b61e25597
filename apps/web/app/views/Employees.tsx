import { defineComponent, onMounted, reactive, ref, shallowRef } from "vue";
import { EmployeeStatus, SortOrder, type Employee } from "@altalune/proto";
import { useApp } from "../context.js";
import { describeError, fieldErrors } from "../errors.js";
import { ErrorBanner, Field, Pager, valueOf } from "./parts.js";

const PAGE_SIZE = 10;
const COLUMNS = [
  { field: "name", label: "Name" },
  { field: "email", label: "Email" },
  { field: "role", label: "Role" },
  { field: "department", label: "Department" },
  { field: "status", label: "Status" },
] as const;
type SortField = (typeof COLUMNS)[number]["field"];

const STATUS_LABEL: Record<EmployeeStatus, string> = {
  [EmployeeStatus.UNSPECIFIED]: "—",
  [EmployeeStatus.ACTIVE]: "Active",
  [EmployeeStatus.INACTIVE]: "Inactive",
};

interface Draft {
  name: string;
  email: string;
  role: string;
  department: string;
  status: EmployeeStatus;
}

const emptyDraft = (): Draft => ({ name: "", email: "", role: "", department: "", status: EmployeeStatus.ACTIVE });

export const Employees = defineComponent({
  props: { projectId: { type: String, required: true } },
  setup(props) {
    const { api } = useApp();
    const projectName = ref("");
    const keyword = ref("");
    const status = ref<"" | "active" | "inactive">("");
    const sort = ref<{ field: SortField; order: SortOrder }>({ field: "name", order: SortOrder.ASC });
    const page = ref(1);
    const rows = shallowRef<Employee[]>([]);
    const meta = ref({ rowCount: 0, pageCount: 0 });
    const error = ref<string>();
    const loading = ref(false);
    const notice = ref<string>();

    // The create/edit form: `editing` is the employee being edited, undefined when creating.
    const formOpen = ref(false);
    const editing = shallowRef<Employee>();
    const draft = reactive<Draft>(emptyDraft());
    const errors = ref<Record<string, string>>({});
    const formError = ref<string>();
    const saving = ref(false);
    const confirmingDelete = ref<string>();

    const load = async () => {
      loading.value = true;
      try {
        const res = await api.employees.queryEmployees({
          projectId: props.projectId,
          query: {
            pagination: { page: page.value, pageSize: PAGE_SIZE },
            keyword: keyword.value.trim(),
            filters: status.value === "" ? {} : { status: { values: [status.value] } },
            sorting: sort.value,
          },
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
    const reload = () => {
      page.value = 1;
      void load();
    };
    const sortBy = (field: SortField) => {
      sort.value = { field, order: sort.value.field === field && sort.value.order === SortOrder.ASC ? SortOrder.DESC : SortOrder.ASC };
      reload();
    };

    const openForm = (employee?: Employee) => {
      editing.value = employee;
      Object.assign(draft, employee ? { name: employee.name, email: employee.email, role: employee.role, department: employee.department, status: employee.status } : emptyDraft());
      errors.value = {};
      formError.value = undefined;
      formOpen.value = true;
    };
    const save = async (e: Event) => {
      e.preventDefault();
      saving.value = true;
      try {
        const input = { projectId: props.projectId, ...draft };
        const target = editing.value;
        if (target === undefined) await api.employees.createEmployee(input);
        else await api.employees.updateEmployee({ ...input, employeeId: target.id });
        notice.value = target === undefined ? `Employee ${draft.name} created.` : `Employee ${draft.name} saved.`;
        formOpen.value = false;
        await load();
      } catch (err) {
        errors.value = fieldErrors(err);
        formError.value = describeError(err);
      } finally {
        saving.value = false;
      }
    };
    const remove = async (employee: Employee) => {
      try {
        await api.employees.deleteEmployee({ projectId: props.projectId, employeeId: employee.id });
        notice.value = `Employee ${employee.name} deleted.`;
        confirmingDelete.value = undefined;
        await load();
      } catch (err) {
        error.value = describeError(err);
      }
    };

    onMounted(async () => {
      void load();
      try {
        projectName.value = (await api.projects.getProject({ id: props.projectId })).project?.name ?? "";
      } catch {
        // The table shows the error that matters (not found, no permission).
      }
    });

    const sortMark = (field: SortField) => (sort.value.field !== field ? "" : sort.value.order === SortOrder.ASC ? " ▲" : " ▼");

    const form = () => (
      <form class="panel" aria-label={editing.value ? "Edit employee" : "New employee"} onSubmit={save} novalidate>
        <h2>{editing.value ? `Edit ${editing.value.name}` : "New employee"}</h2>
        <Field id="name" label="Name" value={draft.name} error={errors.value["name"]} onUpdate={(v: string) => (draft.name = v)} />
        <Field id="email" label="Email" type="email" value={draft.email} error={errors.value["email"]} onUpdate={(v: string) => (draft.email = v)} />
        <Field id="role" label="Role" value={draft.role} error={errors.value["role"]} onUpdate={(v: string) => (draft.role = v)} />
        <Field id="department" label="Department" value={draft.department} error={errors.value["department"]} onUpdate={(v: string) => (draft.department = v)} />
        <div class={["field", errors.value["status"] ? "invalid" : ""]}>
          <label for="status">Status</label>
          <select id="status" name="status" value={String(draft.status)} onChange={(e: Event) => (draft.status = Number(valueOf(e)) as EmployeeStatus)}>
            <option value={String(EmployeeStatus.ACTIVE)}>Active</option>
            <option value={String(EmployeeStatus.INACTIVE)}>Inactive</option>
          </select>
          {errors.value["status"] ? <span class="field-error" data-field-error="status">{errors.value["status"]}</span> : null}
        </div>
        <ErrorBanner message={formError.value} />
        <div class="buttons">
          <button type="submit" class="primary" disabled={saving.value}>
            {editing.value ? "Save" : "Create"}
          </button>
          <button type="button" onClick={() => (formOpen.value = false)}>
            Cancel
          </button>
        </div>
      </form>
    );

    return () => (
      <section>
        <h1>Employees{projectName.value ? ` · ${projectName.value}` : ""}</h1>
        <form
          class="toolbar"
          role="search"
          onSubmit={(e: Event) => {
            e.preventDefault();
            reload();
          }}
        >
          <input
            type="search"
            name="keyword"
            placeholder="Search name, email, role, department"
            aria-label="Search employees"
            value={keyword.value}
            onInput={(e: Event) => (keyword.value = valueOf(e))}
          />
          <button type="submit">Search</button>
          <select
            name="statusFilter"
            aria-label="Status filter"
            value={status.value}
            onChange={(e: Event) => {
              status.value = valueOf(e) as "" | "active" | "inactive";
              reload();
            }}
          >
            <option value="">All statuses</option>
            <option value="active">Active</option>
            <option value="inactive">Inactive</option>
          </select>
          <button type="button" class="primary" onClick={() => openForm()}>
            New employee
          </button>
        </form>
        {notice.value ? <p class="notice" role="status">{notice.value}</p> : null}
        <ErrorBanner message={error.value} />
        {formOpen.value ? form() : null}
        <table aria-busy={loading.value ? "true" : "false"}>
          <thead>
            <tr>
              {COLUMNS.map((c) => (
                <th key={c.field} aria-sort={sort.value.field !== c.field ? "none" : sort.value.order === SortOrder.ASC ? "ascending" : "descending"}>
                  <button type="button" class="sort" data-sort={c.field} onClick={() => sortBy(c.field)}>
                    {c.label}
                    {sortMark(c.field)}
                  </button>
                </th>
              ))}
              <th></th>
            </tr>
          </thead>
          <tbody>
            {rows.value.map((emp) => (
              <tr key={emp.id} data-employee={emp.email}>
                <td>{emp.name}</td>
                <td>{emp.email}</td>
                <td>{emp.role}</td>
                <td>{emp.department}</td>
                <td>{STATUS_LABEL[emp.status]}</td>
                <td class="actions">
                  <button type="button" onClick={() => openForm(emp)}>
                    Edit
                  </button>
                  {confirmingDelete.value === emp.id ? (
                    <button type="button" class="danger" onClick={() => remove(emp)}>
                      Confirm delete
                    </button>
                  ) : (
                    <button type="button" onClick={() => (confirmingDelete.value = emp.id)}>
                      Delete
                    </button>
                  )}
                </td>
              </tr>
            ))}
            {rows.value.length === 0 && !loading.value ? (
              <tr>
                <td colspan={6} class="empty">
                  No employees found.
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
