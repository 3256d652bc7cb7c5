/**
 * SMART scopes (v1 `system/Patient.read`, and v2 `system/Patient.rs`), as a registered client may hold them
 * and as a route asks for them. `user/` scopes are the signed-in staff member's own permissions and need no
 * grant here; `patient/` scopes belong to a standalone launch, which this server does not offer yet.
 */
export const SCOPE = /^system\/(\*|[A-Z][A-Za-z]{1,40})\.(read|write|\*|c?r?u?d?s?)$/;

export type Interaction = 'read' | 'write';

export function scopeAllows(scopes: readonly string[], type: string, interaction: Interaction): boolean {
  return scopes.some((s) => {
    const m = SCOPE.exec(s);
    if (!m || (m[1] !== '*' && m[1] !== type)) return false;
    const what = m[2]!;
    if (what === '*' || what === interaction) return true;
    if (what === 'read' || what === 'write' || !what) return false;
    return interaction === 'read' ? /[rs]/.test(what) : /[cu]/.test(what);
  });
}

/** The scopes a token gets: those asked for that the registration allows (each asked scope must be covered). */
export function grantScopes(asked: readonly string[], registered: readonly string[]): string[] {
  return asked.filter((s) => {
    const m = SCOPE.exec(s);
    if (!m) return false;
    const type = m[1]!;
    const wantsRead = m[2] === 'read' || m[2] === '*' || /[rs]/.test(m[2]!);
    const wantsWrite = m[2] === 'write' || m[2] === '*' || /[cu]/.test(m[2]!);
    const covered = (t: string) =>
      (!wantsRead || scopeAllows(registered, t, 'read')) && (!wantsWrite || scopeAllows(registered, t, 'write'));
    // A wildcard asked for is granted only when the registration holds the wildcard itself.
    return type === '*' ? registered.some((r) => r.startsWith('system/*.')) && covered('*') : covered(type);
  });
}
