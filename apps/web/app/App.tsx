import { defineComponent, onMounted, ref } from "vue";
import { useApp } from "./context.js";
import { describeError } from "./errors.js";
import { here, navigate, route } from "./router.js";
import { ApiKeys } from "./views/ApiKeys.js";
import { Callback } from "./views/Callback.js";
import { Employees } from "./views/Employees.js";
import { Me } from "./views/Me.js";
import { ErrorBanner } from "./views/parts.js";
import { Projects } from "./views/Projects.js";
import { SignIn } from "./views/SignIn.js";

const PUBLIC_ROUTES = new Set(["signin", "callback"]);

const link = (to: string, label: string) => (
  <a href={to} onClick={(e: MouseEvent) => (e.preventDefault(), navigate(to))}>
    {label}
  </a>
);

export const App = defineComponent({
  setup() {
    const { session } = useApp();
    const ready = ref(false);
    const error = ref<string>();

    const toSignIn = (expired: boolean) =>
      navigate(`/signin?${new URLSearchParams({ ...(expired ? { expired: "1" } : {}), returnTo: here() }).toString()}`, { replace: true });
    session.onEnded = () => toSignIn(true);

    onMounted(async () => {
      if (!PUBLIC_ROUTES.has(route.value.name)) {
        try {
          if ((await session.restore()) === undefined) toSignIn(false);
        } catch (e) {
          error.value = describeError(e);
        }
      }
      ready.value = true;
    });

    const signOut = async () => {
      try {
        await session.signOut();
        navigate("/signin", { replace: true });
      } catch (e) {
        error.value = describeError(e);
      }
    };

    const page = () => {
      const r = route.value;
      switch (r.name) {
        case "signin":
          return <SignIn expired={r.expired} returnTo={r.returnTo} />;
        case "callback":
          return <Callback />;
        case "projects":
          return <Projects />;
        case "employees":
          return <Employees key={r.projectId} projectId={r.projectId} />;
        case "apiKeys":
          return <ApiKeys key={r.projectId} projectId={r.projectId} />;
        case "me":
          return <Me />;
        case "notFound":
          return <p>This page does not exist. {link("/projects", "Go to the projects")}</p>;
      }
    };

    return () => {
      const user = session.user.value;
      const isPublic = PUBLIC_ROUTES.has(route.value.name);
      return (
        <div class="shell">
          <header>
            <strong class="brand">Altalune</strong>
            {user && !isPublic ? (
              <nav>
                {link("/projects", "Projects")}
                {link("/me", "Account")}
                <span class="who" data-user-email>
                  {user.email ?? user.sub}
                </span>
                <button type="button" onClick={signOut}>
                  Sign out
                </button>
              </nav>
            ) : null}
          </header>
          <main>
            <ErrorBanner message={error.value} />
            {ready.value && (isPublic || user) ? page() : !ready.value ? <p>Loading…</p> : null}
          </main>
        </div>
      );
    };
  },
});
