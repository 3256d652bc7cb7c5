/**
 * SMART scopes (v1 `system/Patient.read`, and v2 `system/Patient.rs`), as a registered client may hold them
 * and as a route asks for them. The same grammar with another context serves the apps of a standalone launch:
 * `user/` (a staff member's app, never beyond the member's own permissions) and `patient/` (a patient's app,
 * read-only and confined to that patient's compartment).
 */
export const SCOPE = /^system\/(\*|[A-Z][A-Za-z]{1,40})\.(read|write|\*|c?r?u?d?s?)$/;
/** A resource scope of a launched app: `user/Observation.rs`, `patient/*.read`. */
export const LAUNCH_SCOPE = /^(user|patient)\/(\*|[A-Z][A-Za-z]{1,40})\.(read|write|\*|c?r?u?d?s?)$/;
/** The launch scopes that are not resource scopes and that this server understands. */
export const LAUNCH_CONTEXT_SCOPES = ['launch/patient'] as const;
/** OpenID Connect (an id_token; `fhirUser` adds the person's FHIR resource to it) and refresh tokens. */
export const OIDC_SCOPES = ['openid', 'fhirUser', 'offline_access', 'online_access'] as const;
export const isOidcScope = (s: string): boolean => (OIDC_SCOPES as readonly string[]).includes(s);

export type Interaction = 'read' | 'write';
export type ScopeContext = 'system' | 'user' | 'patient';

const RESOURCE_SCOPE = /^(system|user|patient)\/(\*|[A-Z][A-Za-z]{1,40})\.(read|write|\*|c?r?u?d?s?)$/;

function parse(s: string, context: ScopeContext): { type: string; what: string } | undefined {
  const m = RESOURCE_SCOPE.exec(s);
  return m && m[1] === context && m[3] ? { type: m[2]!, what: m[3] } : undefined;
}

export function scopeAllows(scopes: readonly string[], type: string, interaction: Interaction, context: ScopeContext = 'system'): boolean {
  return scopes.some((s) => {
    const m = parse(s, context);
    if (!m || (m.type !== '*' && m.type !== type)) return false;
    if (m.what === '*' || m.what === interaction) return true;
    if (m.what === 'read' || m.what === 'write') return false;
    return interaction === 'read' ? /[rs]/.test(m.what) : /[cu]/.test(m.what);
  });
}

/** Whether a resource scope asks for writing (v1 `write`/`*`, v2 `c`/`u`/`d`). */
export const scopeWrites = (s: string): boolean => {
  const what = RESOURCE_SCOPE.exec(s)?.[3];
  if (what === undefined || what === 'read') return false;
  return what === 'write' || what === '*' || /[cud]/.test(what);
};

/** The scopes a token gets: those asked for that the registration allows (each asked scope must be covered). */
export function grantScopes(asked: readonly string[], registered: readonly string[], context: ScopeContext = 'system'): string[] {
  return asked.filter((s) => {
    const m = parse(s, context);
    if (!m) return false;
    const wantsRead = m.what === 'read' || m.what === '*' || /[rs]/.test(m.what);
    const wantsWrite = m.what === 'write' || m.what === '*' || /[cu]/.test(m.what);
    const covered = (t: string) =>
      (!wantsRead || scopeAllows(registered, t, 'read', context)) && (!wantsWrite || scopeAllows(registered, t, 'write', context));
    // A wildcard asked for is granted only when the registration holds the wildcard itself.
    return m.type === '*' ? registered.some((r) => r.startsWith(`${context}/*.`)) && covered('*') : covered(m.type);
  });
}
