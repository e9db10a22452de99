/**
 * Which contract a request belongs to, decided from its path alone. This is the
 * single routing table for error shapes: the error handler renders with it, and
 * only the credential resolver may narrow "003|004" (the shared `GET /api/v1/jobs`)
 * once it knows whether the caller is an agent or a user.
 */
export type Surface = "000" | "001" | "002" | "003" | "004" | "003|004";

const rules: [RegExp, Surface][] = [
  [/^\/api\/v1\/jobs\/?$/, "003|004"],
  [/^\/api\/v1\/jobs\/[^/]+\/(claim|heartbeat|submit|fail|inputs\/[^/]+|outputs\/[^/]+)\/?$/, "003"],
  [/^\/api\/v1\/(jobs|auth|sessions|config|health)(\/|$)/, "004"],
  [/^\/api\/v1(\/|$)/, "003"],
  [/^\/api\/(register|login|refresh|task|resource|docs)(\/|$)/, "002"],
  [/^\/ws\/notifications\/?$/, "002"],
  [/^\/(api|ws)(\/|$)/, "001"],
  [/^\/(docs|openapi\.json)(\/|$)/, "001"],
];

export function surfaceForPath(path: string): Surface {
  for (const [pattern, surface] of rules) if (pattern.test(path)) return surface;
  // The root namespace (/, /health, /auth, /admin, /generate, …) is contract 000's.
  // Its error body {code, detail, user_action} also satisfies 001's {detail}.
  return "000";
}
