import { openSecret, sealSecret, SealedSecretError } from "@altalune/core";

/**
 * oidc-provider keeps other models' ids inside its payloads and reads them back: a Session its
 * `uid` and each client's grant id, an Interaction the session uid, the grant id and its own
 * resume URL (`returnTo` ends with the interaction uid), a code or refresh token its grant id and
 * session uid. Stored raw, a database dump would pair them with the rest of the row. They are
 * sealed (AES-256-GCM, `sealSecret`) under a key derived from ENCRYPTION_KEY, with the model, the
 * row's hashed id and the field's path as associated data, so a value copied to another row or
 * field does not open. Lookups never need them: they go through the hashed `id`, `uid` and
 * `grant_id` columns (pg-adapter.ts).
 *
 * Paths are dot-separated; `*` stands for every key of an object (Session.authorizations is
 * keyed by client id).
 */
const GRANT_AND_SESSION = ["grantId", "sessionUid", "sid"] as const;
export const SEALED_ID_PATHS: Readonly<Record<string, readonly string[]>> = {
  // `state.secret`: the logout confirmation's CSRF secret.
  Session: ["uid", "authorizations.*.grantId", "authorizations.*.sid", "state.secret"],
  Interaction: ["returnTo", "grantId", "session.uid", "result.consent.grantId", "lastSubmission.consent.grantId", "deviceCode", "parJti"],
  AuthorizationCode: GRANT_AND_SESSION,
  RefreshToken: GRANT_AND_SESSION,
  AccessToken: GRANT_AND_SESSION,
  DeviceCode: GRANT_AND_SESSION,
  BackchannelAuthenticationRequest: GRANT_AND_SESSION,
};

/** Written into every stored payload: rows without it predate sealing (migration 0017). */
export const SEALED_MARKER = "sealedIds";

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** A stored value that does not open: written before sealing, under another key, or altered. */
export class UnreadableStoredId extends Error {
  constructor(readonly path: string) {
    super(`stored ${path} cannot be opened`);
    this.name = "UnreadableStoredId";
  }
}

/**
 * A copy of `obj` where every string at `segments` went through `fn` (given the concrete path);
 * objects off the path are shared, not copied.
 */
function mapStrings(obj: Json, segments: readonly string[], fn: (value: string, path: string) => string, prefix = ""): Json {
  const [head, ...rest] = segments;
  if (head === undefined) return obj;
  const keys = head === "*" ? Object.keys(obj) : Object.hasOwn(obj, head) ? [head] : [];
  if (keys.length === 0) return obj;
  const out: Json = { ...obj };
  for (const key of keys) {
    const path = prefix === "" ? key : `${prefix}.${key}`;
    const value = obj[key];
    if (rest.length === 0) {
      if (typeof value === "string") out[key] = fn(value, path);
    } else if (isObject(value)) {
      out[key] = mapStrings(value, rest, fn, path);
    }
  }
  return out;
}

export class StoredIdSealer {
  constructor(private readonly key: Buffer) {}

  private context(model: string, rowId: string, path: string): string {
    return `oidc_model:${model}:${rowId}:${path}`;
  }

  /** The payload to store for `model`'s row `rowId` (the hashed id). */
  seal(model: string, rowId: string, payload: Json): Json {
    let out = payload;
    for (const path of SEALED_ID_PATHS[model] ?? []) {
      out = mapStrings(out, path.split("."), (v, p) => sealSecret(this.key, v, this.context(model, rowId, p)));
    }
    return { ...out, [SEALED_MARKER]: 1 };
  }

  /** The payload oidc-provider wrote; throws UnreadableStoredId when a sealed value does not open. */
  open(model: string, rowId: string, stored: Json): Json {
    const { [SEALED_MARKER]: _marker, ...payload } = stored;
    let out: Json = payload;
    for (const path of SEALED_ID_PATHS[model] ?? []) {
      out = mapStrings(out, path.split("."), (v, p) => {
        try {
          return openSecret(this.key, v, this.context(model, rowId, p));
        } catch (e) {
          if (e instanceof SealedSecretError) throw new UnreadableStoredId(p);
          throw e;
        }
      });
    }
    return out;
  }
}
