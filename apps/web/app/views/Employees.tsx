import { defineComponent, onMounted, reactive, ref, shallowRef } from "vue";
import { EmployeeStatus, SortOrder, type Employee } from "@altalune/proto";
import { useApp } from "../context.js";
import { describeError, fieldErrors } from "../errors.js";
import { PagedTable, SearchToolbar } from "./list-parts.js";
import { usePagedList } from "./paged-list.js";
import { ErrorBanner, Field, valueOf } from "./parts.js";

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
    const list = usePagedList<Employee>((pagination) =>
      api.employees.queryEmployees({
        projectId: props.projectId,
        query: {
          pagination,
          keyword: keyword.value.trim(),
          filters: status.value === "" ? {} : { status: { values: [status.value] } },
          sorting: sort.value,
        },
      }),
    );
    const notice = ref<string>();

    // The create/edit form: `editing` is the employee being edited, undefined when creating.
    const formOpen = ref(false);
    const editing = shallowRef<Employee>();
    const draft = reactive<Draft>(emptyDraft());
    const errors = ref<Record<string, string>>({});
    const formError = ref<string>();
    const saving = ref(false);
    const confirmingDelete = ref<string>();

    const sortBy = (field: SortField) => {
      sort.value = { field, order: sort.value.field === field && sort.value.order === SortOrder.ASC ? SortOrder.DESC : SortOrder.ASC };
      list.reload();
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
        await list.load();
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
        await list.load();
      } catch (err) {
        list.error.value = describeError(err);
      }
    };

    onMounted(async () => {
      void list.load();
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

    const row = (emp: Employee) => (
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
    );

    return () => (
      <section>
        <h1>Employees{projectName.value ? ` · ${projectName.value}` : ""}</h1>
        <SearchToolbar label="Search employees" placeholder="Search name, email, role, department" keyword={keyword} onSearch={list.reload}>
          {{
            default: () => [
              <select
                name="statusFilter"
                aria-label="Status filter"
                value={status.value}
                onChange={(e: Event) => {
                  status.value = valueOf(e) as "" | "active" | "inactive";
                  list.reload();
                }}
              >
                <option value="">All statuses</option>
                <option value="active">Active</option>
                <option value="inactive">Inactive</option>
              </select>,
              <button type="button" class="primary" onClick={() => openForm()}>
                New employee
              </button>,
            ],
          }}
        </SearchToolbar>
        {notice.value ? <p class="notice" role="status">{notice.value}</p> : null}
        <ErrorBanner message={list.error.value} />
        {formOpen.value ? form() : null}
        <PagedTable list={list} colspan={6} emptyText="No employees found." showBusy>
          {{
            head: () => (
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
            ),
            default: () => list.rows.value.map(row),
          }}
        </PagedTable>
      </section>
    );
  },
});
