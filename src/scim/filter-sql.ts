import { sql, type RawBuilder, type SqlBool } from 'kysely';
import { invalidFilter } from './errors.js';
import type { Compare, Filter } from './filter.js';
import { findAttr, findSchema, type AttrDef, type AttrType, type ResourceKind } from './schemas.js';

/**
 * Compiles a parsed SCIM filter to one SQL condition, so listing a clinic of ten thousand users reads one page,
 * not the directory. Indexed columns (`user_name`, `external_id`, …) answer the common filters; every other
 * attribute is read from the stored resource body (`jsonb`), and multi-valued ones (`emails`, `members`)
 * become `exists (…)` over their values, so `emails[type eq "work" and value co "@x"]` holds for one email.
 * Values are always bound parameters; names come from the schema, never from the client.
 */
export interface Scalar {
  kind: 'scalar';
  def: AttrDef;
  expr: RawBuilder<unknown>;
}
export interface Collection {
  kind: 'collection';
  def: AttrDef;
  /** `exists` over the values of the attribute; `sub` gives the SQL of one sub-attribute of the current value. */
  some(pred: (sub: (name: string) => Scalar | undefined) => RawBuilder<SqlBool>): RawBuilder<SqlBool>;
}
export type Resolver = (attrPath: string) => { operand: Scalar | Collection; sub?: string } | undefined;

const OPS: Record<string, string> = { eq: '=', gt: '>', ge: '>=', lt: '<', le: '<=' };

export function compileFilter(f: Filter, resolve: Resolver): RawBuilder<SqlBool> {
  switch (f.op) {
    case 'and':
    case 'or':
      return sql<SqlBool>`(${sql.join(
        f.filters.map((c) => compileFilter(c, resolve)),
        sql.raw(` ${f.op} `),
      )})`;
    case 'not':
      return sql<SqlBool>`(not ${compileFilter(f.filter, resolve)})`;
    case '[]': {
      const target = resolve(f.attrPath);
      if (target?.operand.kind !== 'collection' || target.sub) throw invalidFilter(`"${f.attrPath}" is not a multi-valued attribute`);
      return target.operand.some((sub) => compileFilter(f.valFilter, (path) => elementOperand(sub, path)));
    }
    default: {
      const target = resolve(f.attrPath);
      if (!target) throw invalidFilter(`Unknown attribute "${f.attrPath}" in the filter`);
      const value = f.op === 'pr' ? undefined : f.compValue;
      const { operand } = target;
      if (operand.kind === 'scalar') return compare(operand, f.op, value);
      // A multi-valued attribute without a sub-attribute is compared on its `value` (RFC 7644 §3.4.2.2).
      if (f.op === 'pr' && !target.sub) return operand.some(() => sql<SqlBool>`true`);
      return operand.some((sub) => {
        const s = sub(target.sub ?? 'value');
        if (!s) throw invalidFilter(`"${f.attrPath}" has no sub-attribute ${target.sub ?? 'value'}`);
        return compare(s, f.op, value);
      });
    }
  }
}

function elementOperand(sub: (name: string) => Scalar | undefined, path: string): { operand: Scalar } | undefined {
  const s = sub(path);
  return s && { operand: s };
}

function compare(s: Scalar, op: Compare['op'] | 'pr', value: Compare['compValue'] | undefined): RawBuilder<SqlBool> {
  const { expr, def } = s;
  if (op === 'pr')
    return def.type === 'string' || def.type === 'reference'
      ? sql<SqlBool>`(${expr} is not null and ${expr} <> '')`
      : sql<SqlBool>`(${expr} is not null)`;
  if (value === null || value === undefined) {
    if (op === 'eq') return sql<SqlBool>`(${expr} is null)`;
    if (op === 'ne') return sql<SqlBool>`(${expr} is not null)`;
    throw invalidFilter(`"${op} null" is not a comparison`);
  }
  switch (def.type) {
    case 'complex':
      throw invalidFilter(`"${def.name}" is complex: compare one of its sub-attributes`);
    case 'boolean': {
      const b = String(value).toLowerCase();
      if ((op !== 'eq' && op !== 'ne') || (b !== 'true' && b !== 'false'))
        throw invalidFilter(`"${def.name}" is true or false; use eq or ne`);
      return op === 'eq' ? sql<SqlBool>`(${expr} = ${b === 'true'})` : sql<SqlBool>`(${expr} is distinct from ${b === 'true'})`;
    }
    case 'dateTime': {
      const at = Date.parse(String(value));
      if (Number.isNaN(at)) throw invalidFilter(`"${value}" is not a date and time`);
      return ordered(expr, op, sql`${new Date(at)}::timestamptz`, def);
    }
    case 'integer':
    case 'decimal': {
      const n = Number(value);
      if (!Number.isFinite(n)) throw invalidFilter(`"${value}" is not a number`);
      return ordered(expr, op, sql`${n}::numeric`, def);
    }
    default: {
      const text = String(value);
      const lhs = def.caseExact ? expr : sql`lower(${expr})`;
      const rhs = def.caseExact ? sql`${text}::text` : sql`lower(${text}::text)`;
      if (op === 'co') return sql<SqlBool>`(strpos(${lhs}, ${rhs}) > 0)`;
      if (op === 'sw') return sql<SqlBool>`starts_with(${lhs}, ${rhs})`;
      if (op === 'ew') return sql<SqlBool>`(right(${lhs}, char_length(${rhs})) = ${rhs})`;
      return ordered(lhs, op, rhs, def);
    }
  }
}

function ordered(lhs: RawBuilder<unknown>, op: Compare['op'], rhs: RawBuilder<unknown>, def: AttrDef): RawBuilder<SqlBool> {
  if (op === 'ne') return sql<SqlBool>`(${lhs} is null or ${lhs} <> ${rhs})`;
  const sqlOp = OPS[op];
  if (!sqlOp) throw invalidFilter(`"${op}" does not apply to ${def.name}`);
  return sql<SqlBool>`(${lhs} ${sql.raw(sqlOp)} ${rhs})`;
}

const column = (name: string, type: AttrType, caseExact: boolean, expr: RawBuilder<unknown>): Scalar => ({
  kind: 'scalar',
  expr,
  def: {
    name,
    type,
    caseExact,
    multiValued: false,
    description: '',
    required: false,
    mutability: 'readOnly',
    returned: 'default',
    uniqueness: 'none',
  },
});

/** A jsonb text value read as its attribute's type. */
function typed(text: RawBuilder<unknown>, type: AttrType): RawBuilder<unknown> {
  if (type === 'boolean') return sql`(${text})::boolean`;
  if (type === 'dateTime') return sql`(${text})::timestamptz`;
  if (type === 'integer' || type === 'decimal') return sql`(${text})::numeric`;
  return text;
}

/** Common attributes (`id`, `externalId`, `meta.*`) and the columns that answer them. */
function common(name: string, sub: string | undefined, alias: string, idColumn: string, resourceType: string): Scalar | undefined {
  const lower = name.toLowerCase();
  if (lower === 'id' && !sub) return column('id', 'string', true, sql.ref(`${alias}.${idColumn}`));
  if (lower === 'externalid' && !sub) return column('externalId', 'string', true, sql.ref(`${alias}.external_id`));
  if (lower !== 'meta' || !sub) return undefined;
  const s = sub.toLowerCase();
  if (s === 'created') return column('created', 'dateTime', true, sql.ref(`${alias}.created_at`));
  if (s === 'lastmodified') return column('lastModified', 'dateTime', true, sql.ref(`${alias}.updated_at`));
  if (s === 'resourcetype') return column('resourceType', 'string', true, sql`${resourceType}::text`);
  return undefined;
}

/** Splits `urn:…:User:name.givenName` into the schema it names (core when absent), the attribute and a sub-attribute. */
export function splitPath(kind: ResourceKind, path: string): { schemaId: string; name: string; sub?: string } | undefined {
  let schemaId = kind.core.id;
  let rest = path;
  for (const s of [kind.core, ...kind.extensions]) {
    if (path.toLowerCase().startsWith(`${s.id.toLowerCase()}:`)) {
      schemaId = s.id;
      rest = path.slice(s.id.length + 1);
    }
  }
  const [name, sub, more] = rest.split('.');
  if (!name || more !== undefined) return undefined;
  return sub === undefined ? { schemaId, name } : { schemaId, name, sub };
}

export function userResolver(kind: ResourceKind, alias = 'u'): Resolver {
  const resource = sql.ref(`${alias}.resource`);
  return (path) => {
    const parts = splitPath(kind, path);
    if (!parts) return undefined;
    const { schemaId, name, sub } = parts;
    const core = schemaId === kind.core.id;
    const fixed = core ? common(name, sub, alias, 'user_id', 'User') : undefined;
    if (fixed) return { operand: fixed };
    if (core && name.toLowerCase() === 'username') return { operand: column('userName', 'string', false, sql.ref(`${alias}.user_name`)) };
    if (core && name.toLowerCase() === 'active') return { operand: column('active', 'boolean', true, sql.ref(`${alias}.active`)) };
    const schema = findSchema(kind, schemaId)!;
    const def = findAttr(schema.attributes, name);
    if (!def) return undefined;
    if (def.name === 'groups') return { operand: userGroups(def, alias), ...(sub ? { sub } : {}) };
    const base = core ? [def.name] : [schema.id, def.name];
    if (def.multiValued) {
      const some: Collection['some'] = (pred) =>
        sql<SqlBool>`exists (select 1 from jsonb_array_elements(case when jsonb_typeof(${resource} #> ${base}::text[]) = 'array' then ${resource} #> ${base}::text[] else '[]'::jsonb end) as el(v) where ${pred(
          (n) => {
            const sd = findAttr(def.subAttributes, n);
            return sd && column(sd.name, sd.type, sd.caseExact, typed(sql`(el.v ->> ${sd.name}::text)`, sd.type));
          },
        )})`;
      return { operand: { kind: 'collection', def, some }, ...(sub ? { sub } : {}) };
    }
    if (!sub)
      return {
        operand: column(
          def.name,
          def.type,
          def.caseExact,
          def.type === 'complex' ? sql`(${resource} #> ${base}::text[])` : typed(sql`(${resource} #>> ${base}::text[])`, def.type),
        ),
      };
    const sd = findAttr(def.subAttributes, sub);
    if (!sd) return undefined;
    return { operand: column(sd.name, sd.type, sd.caseExact, typed(sql`(${resource} #>> ${[...base, sd.name]}::text[])`, sd.type)) };
  };
}

function userGroups(def: AttrDef, alias: string): Collection {
  return {
    kind: 'collection',
    def,
    some: (pred) =>
      sql<SqlBool>`exists (select 1 from scim_group_members gm join scim_groups gg on gg.clinic_id = gm.clinic_id and gg.id = gm.group_id
        where gm.clinic_id = ${sql.ref(`${alias}.clinic_id`)} and gm.user_id = ${sql.ref(`${alias}.user_id`)} and ${pred((n) => {
          const l = n.toLowerCase();
          if (l === 'value') return column('value', 'string', true, sql.ref('gm.group_id'));
          if (l === 'display') return column('display', 'string', false, sql.ref('gg.display_name'));
          if (l === 'type') return column('type', 'string', false, sql`'direct'::text`);
          return undefined;
        })})`,
  };
}

export function groupResolver(kind: ResourceKind, alias = 'g'): Resolver {
  return (path) => {
    const parts = splitPath(kind, path);
    if (!parts || parts.schemaId !== kind.core.id) return undefined;
    const { name, sub } = parts;
    const fixed = common(name, sub, alias, 'id', 'Group');
    if (fixed) return { operand: fixed };
    const def = findAttr(kind.core.attributes, name);
    if (def?.name === 'displayName' && !sub) return { operand: column('displayName', 'string', false, sql.ref(`${alias}.display_name`)) };
    if (def?.name !== 'members') return undefined;
    const some: Collection['some'] = (pred) =>
      sql<SqlBool>`exists (select 1 from scim_group_members m where m.clinic_id = ${sql.ref(`${alias}.clinic_id`)} and m.group_id = ${sql.ref(`${alias}.id`)} and ${pred(
        (n) => {
          const l = n.toLowerCase();
          if (l === 'value') return column('value', 'string', true, sql.ref('m.user_id'));
          if (l === 'display') return column('display', 'string', false, sql.ref('m.display'));
          if (l === 'type') return column('type', 'string', false, sql`'User'::text`);
          return undefined;
        },
      )})`;
    return { operand: { kind: 'collection', def, some }, ...(sub ? { sub } : {}) };
  };
}
