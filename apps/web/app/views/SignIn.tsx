import { defineComponent, ref } from "vue";
import { useApp } from "../context.js";
import { authorizationUrl } from "../pkce.js";
import { ErrorBanner } from "./parts.js";

export const SignIn = defineComponent({
  props: { expired: { type: Boolean, default: false }, returnTo: { type: String, default: "/projects" } },
  setup(props) {
    const { config } = useApp();
    const error = ref<string>();
    const start = async () => {
      try {
        window.location.assign(await authorizationUrl(config, props.returnTo));
      } catch {
        error.value = "Sign-in could not be started in this browser.";
      }
    };
    return () => (
      <section class="signin">
        <h1>Altalune</h1>
        {props.expired ? <p class="notice">Your session has ended. Please sign in again.</p> : null}
        <p>Sign in with your email address: you will receive a one-time code.</p>
        <button type="button" class="primary" onClick={start}>
          Sign in
        </button>
        <ErrorBanner message={error.value} />
      </section>
    );
  },
});
