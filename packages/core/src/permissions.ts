/**
 * The wildcard permission: a user holding it passes every rule (docs/authorization.md). Both apps
 * name it — the authorizer, the seed and the escalation guards of the Resources API, the token
 * claims of the auth server — so it is defined once here. It is never an OAuth scope.
 */
export const ROOT_PERMISSION = "root";
