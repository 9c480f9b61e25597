import { defineComponent } from "vue";
import { useApp } from "../context.js";

export const Me = defineComponent({
  setup() {
    const { session } = useApp();
    return () => {
      const user = session.user.value;
      if (user === undefined) return null;
      return (
        <section>
          <h1>Your account</h1>
          <dl class="facts">
            <dt>Name</dt>
            <dd>{user.name ?? "—"}</dd>
            <dt>Email</dt>
            <dd data-me-email>{user.email ?? "—"}</dd>
            <dt>Email verified</dt>
            <dd>{user.email_verified ? "yes" : "no"}</dd>
            <dt>User id</dt>
            <dd>
              <code>{user.sub}</code>
            </dd>
            <dt>Permissions</dt>
            <dd>{user.perms.length ? user.perms.join(", ") : "none"}</dd>
            <dt>Projects</dt>
            <dd>
              {Object.entries(user.memberships).length
                ? Object.entries(user.memberships)
                    .map(([project, role]) => `${project} (${role})`)
                    .join(", ")
                : "none"}
            </dd>
          </dl>
        </section>
      );
    };
  },
});
