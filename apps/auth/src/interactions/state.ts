import type { Interaction } from "oidc-provider";

/**
 * What this server keeps in an Interaction between the login steps — code login and social login
 * alike — in its `result`, which the server owns until the login ends. The one module that reads
 * and writes that shape.
 */
export interface LoginState {
  email?: string;
  /** A user who proved their address but is not active yet: shown the pending page, never sent back. */
  pendingUser?: string;
}

export function stateOf(interaction: Interaction): LoginState {
  const raw = (interaction.result as { altalune?: LoginState } | undefined)?.altalune;
  return raw ?? {};
}

/** Saves the state for the rest of the interaction's own lifetime (never extends it). */
export async function saveState(interaction: Interaction, state: LoginState): Promise<void> {
  interaction.result = { altalune: state };
  await interaction.save(Math.max(1, (interaction.exp ?? 0) - Math.floor(Date.now() / 1000)));
}
