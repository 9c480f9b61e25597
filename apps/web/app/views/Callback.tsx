import { defineComponent, onMounted, ref } from "vue";
import { useApp } from "../context.js";
import { describeError } from "../errors.js";
import { takePendingSignIn } from "../pkce.js";
import { navigate } from "../router.js";
import { ErrorBanner } from "./parts.js";

/** /auth/callback: the auth server sent the browser back with a code; the BFF redeems it. */
export const Callback = defineComponent({
  setup() {
    const { config, session } = useApp();
    const error = ref<string>();
    onMounted(async () => {
      const params = new URLSearchParams(window.location.search);
      // The code must not stay in the address bar or the history.
      history.replaceState(null, "", "/auth/callback");
      const pending = takePendingSignIn(params.get("state"));
      if (params.get("error") !== null) {
        error.value = params.get("error") === "access_denied" ? "Sign-in was cancelled." : "Sign-in failed. Please try again.";
        return;
      }
      const code = params.get("code");
      if (pending === undefined || code === null) {
        error.value = "This sign-in link is no longer valid (it was used already or started in another tab). Please sign in again.";
        return;
      }
      try {
        session.user.value = (await session.bff.exchange(code, pending.verifier, config.redirectUri)).user;
        navigate(pending.returnTo.startsWith("/") && !pending.returnTo.startsWith("//") ? pending.returnTo : "/projects", { replace: true });
      } catch (e) {
        error.value = describeError(e);
      }
    });
    return () => (
      <section class="signin">
        {error.value ? (
          <>
            <ErrorBanner message={error.value} />
            <a href="/signin">Sign in</a>
          </>
        ) : (
          <p>Signing you in…</p>
        )}
      </section>
    );
  },
});
