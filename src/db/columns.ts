import type { ColumnType } from 'kysely';

/**
 * Table types described once, as runtime values, from which both the Kysely type and the check against the
 * database derive.
 *
 * Why not generate the types from the DDL instead: our table types say more than the catalogue does. A
 * `jsonb` column has the shape the domain writes into it (`QuestionnaireItemRow[]`, a SCIM resource), an
 * audit column is written on insert and never updated, a status column is a union of its allowed values.
 * A generator would either lose that or need a second file of overrides per column, which is the same
 * double bookkeeping with worse error messages. Described here, the TypeScript type cannot disagree with
 * the description (it is computed from it), and `src/schema.test.ts` migrates a fresh database and checks
 * every description against the catalogue: the same columns, the same nullability, the same SQL type, a
 * default where the type lets an insert omit the column, and for a `check (x in (...))` column the same
 * values.
 *
 * Constructors name the SQL type and fix the TypeScript type node-postgres hands back for it (with the
 * parsers `db/pg.ts` installs): text → string, integer / smallint / bigint / double precision → number,
 * boolean → boolean, timestamptz → Date, date and time → string, jsonb → the declared shape (written as a
 * JSON string), text[] → string[], xid8 → string.
 */
export type SqlType =
  | 'text'
  | 'integer'
  | 'smallint'
  | 'bigint'
  | 'double precision'
  | 'numeric'
  | 'boolean'
  | 'timestamp with time zone'
  | 'date'
  | 'time without time zone'
  | 'jsonb'
  | 'text[]'
  | 'xid8';

export interface ColumnSpec {
  readonly sqlType: SqlType;
  readonly nullable: boolean;
  /** The DDL gives a default, so an insert may leave the column out (Kysely's `Generated`). */
  readonly hasDefault: boolean;
  /** The values a `check (column in (...))` allows, for a column typed as their union. */
  readonly values?: readonly string[];
}

/** `ColumnType<S, I, U>`, or plainly `S` when the three are the same (how a hand-written Kysely table reads). */
type KyselyColumn<S, I, U> = [S, I, U] extends [I, U, S] ? S : ColumnType<S, I, U>;

export class Column<Select, Insert, Update> {
  /** Type only: the Kysely column type this description stands for. */
  declare readonly kysely: KyselyColumn<Select, Insert, Update>;

  constructor(readonly spec: ColumnSpec) {}

  nullable(): Column<Select | null, Insert | null, Update | null> {
    return new Column({ ...this.spec, nullable: true });
  }

  hasDefault(): Column<Select, Insert | undefined, Update> {
    return new Column({ ...this.spec, hasDefault: true });
  }

  /** Written with the row and never updated (audit records); the database does not know, so nothing checks it. */
  insertOnly(): Column<Select, Insert, never> {
    return new Column(this.spec);
  }
}

type Plain<T> = Column<T, T, T>;
const column = <S, I = S, U = S>(sqlType: SqlType, values?: readonly string[]): Column<S, I, U> =>
  new Column({ sqlType, nullable: false, hasDefault: false, ...(values ? { values } : {}) });

/** Plain text; `T` narrows it for values the database does not constrain (a scope kept beside a checked one). */
export const text = <T extends string = string>(): Plain<T> => column('text');
/** Text that a `check (column in (...))` restricts to `values`. */
export const oneOf = <const V extends readonly string[]>(values: V): Plain<V[number]> => column('text', values);
export const integer = (): Plain<number> => column('integer');
export const smallint = (): Plain<number> => column('smallint');
/** `bigint` and `bigserial`: `db/pg.ts` parses int8 as a JS number. */
export const bigint = (): Plain<number> => column('bigint');
export const double = (): Plain<number> => column('double precision');
/** Exact decimals, read as PostgreSQL's text (a JS number would round them). */
export const numeric = (): Plain<string> => column('numeric');
export const boolean = (): Plain<boolean> => column('boolean');
export const timestamptz = (): Plain<Date> => column('timestamp with time zone');
/** 'YYYY-MM-DD': `db/pg.ts` keeps a calendar day as text. */
export const date = (): Plain<string> => column('date');
/** 'HH:MM:SS' as PostgreSQL returns `time`. */
export const time = (): Plain<string> => column('time without time zone');
export const textArray = (): Plain<string[]> => column('text[]');
/** A 64-bit transaction id (`pg_current_xact_id()`), read as its decimal text (node-postgres has no parser for it). */
export const xid8 = (): Plain<string> => column('xid8');
/** Read as the parsed value `T`; written as its JSON text. */
export const jsonb = <T>(): Column<T, string, string> => column('jsonb');

/** A table: its columns by name (only what a description holds, whatever its builder methods accept). */
export type TableColumns = Record<string, { readonly spec: ColumnSpec; readonly kysely: unknown }>;
/** Several tables by name, as a domain or the whole database declares them. */
export type TablesColumns = Record<string, TableColumns>;

/** The Kysely row type of one described table. */
export type Table<C extends TableColumns> = { [K in keyof C]: C[K]['kysely'] };
/** The Kysely database type of described tables. */
export type Database<T extends TablesColumns> = { [K in keyof T]: Table<T[K]> };

/** The intersection of the parts' types (a union turned inside out through function parameters). */
type Merged<P extends TablesColumns[]> = (P[number] extends infer U ? (U extends unknown ? (x: U) => void : never) : never) extends (
  x: infer I,
) => void
  ? I
  : never;

/** The tables of several domains as one set; a table name declared twice is a mistake, refused at start-up. */
export function mergeTables<P extends TablesColumns[]>(...parts: P): Merged<P> {
  const all: TablesColumns = {};
  for (const part of parts)
    for (const [name, columns] of Object.entries(part)) {
      if (name in all) throw new Error(`table ${name} is declared by two domains`);
      all[name] = columns;
    }
  return all as Merged<P>;
}
