/**
 * A control-plane migration, or one domain's part of one: plain statements run in the control database in one
 * transaction with the others of its version (`tenancy/fleet.ts`). Domains declare their parts beside their
 * tables (`<domain>/control-schema.ts`); `src/schema.ts` puts them in one ordered list.
 */
export interface ControlMigration {
  version: number;
  name: string;
  statements: string[];
}

export const joinControlParts = (parts: ControlMigration[]): ControlMigration => ({
  version: parts[0]!.version,
  name: parts[0]!.name,
  statements: parts.flatMap((p) => p.statements),
});
