import { z } from 'zod';

/**
 * How an identity provider's claims become a clinic role, per connection: ordered rules, each naming one
 * attribute (a SAML attribute name or an OIDC claim, e.g. `groups`) and one value, compared without regard to
 * case against every value the IdP sent for that attribute. The first rule that matches decides, as in a
 * firewall, so narrow, powerful groups go first. When nothing matches, the connection's default role applies,
 * or, without one, the sign-in is refused (deny). This is the same first-match model the clinic's SCIM group
 * rules use (`src/scim/mapping.ts`); SSO rules see attributes rather than directory groups because an IdP
 * speaking SAML or OIDC sends claims, not group resources.
 */
export const roleKey = z.string().regex(/^[a-z][a-z0-9_]{2,40}$/, 'a role key: lower-case letters, digits and _');

export const SsoRoleRule = z.strictObject({
  attribute: z.string().trim().min(1).max(256),
  equals: z.string().trim().min(1).max(512),
  role: roleKey,
});
export type SsoRoleRule = z.infer<typeof SsoRoleRule>;

export const SsoRoleRules = z.array(SsoRoleRule).max(200);

/** What the IdP asserted about the user: attribute name → its values (a single value is a list of one). */
export type IdpAttributes = Record<string, string[]>;

export interface SsoRoleDecision {
  role: string | null;
  decidedBy: 'rule' | 'default' | 'deny';
  ruleIndex: number | null;
  matched: { attribute: string; value: string } | null;
}

export function decideSsoRole(rules: readonly SsoRoleRule[], defaultRole: string | null, attributes: IdpAttributes): SsoRoleDecision {
  for (const [ruleIndex, rule] of rules.entries()) {
    const wanted = rule.equals.toLowerCase();
    const value = (attributes[rule.attribute] ?? []).find((v) => v.trim().toLowerCase() === wanted);
    if (value !== undefined) return { role: rule.role, decidedBy: 'rule', ruleIndex, matched: { attribute: rule.attribute, value } };
  }
  return defaultRole
    ? { role: defaultRole, decidedBy: 'default', ruleIndex: null, matched: null }
    : { role: null, decidedBy: 'deny', ruleIndex: null, matched: null };
}

/**
 * OIDC claims are JSON; rules compare strings. Strings and numbers and booleans become one value, arrays of
 * them become their values; nested objects are not matched (a rule names a flat claim).
 */
export function attributesFromClaims(claims: Record<string, unknown>): IdpAttributes {
  const out: IdpAttributes = {};
  const scalar = (v: unknown): string | undefined =>
    typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
  for (const [name, value] of Object.entries(claims)) {
    const values = (Array.isArray(value) ? value : [value]).map(scalar).filter((v): v is string => v !== undefined);
    if (values.length) out[name] = values;
  }
  return out;
}
