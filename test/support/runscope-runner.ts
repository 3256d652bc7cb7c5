import { existsSync, readFileSync } from 'node:fs';
import { strict as nodeAssert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { createContext, runInContext } from 'node:vm';

/**
 * Runs the request steps of a Runscope test export (such as Okta's SCIM 2.0 SPEC test) against a live server
 * over real HTTP, the way Runscope does: `{{variables}}` substituted in URL, headers and body; each assertion
 * (`source`, `property`, `comparison`, `value`) evaluated against the response; `variables` captured from it
 * for later steps; step `scripts` run in a sandbox with Runscope's `response`, `assert` and `log`.
 * Pause steps exist for Runscope's rate limits and are not slept through.
 *
 * Where Runscope's semantics are not written down, the runner takes the strict reading:
 * - a property path reads `a.b[0].c`; a name applied to an array reads it from every element
 *   (`Resources[0].emails.value` is the list of addresses);
 * - `not_empty` fails for undefined, null, '' and empty arrays or objects (so `false` and `0` are values);
 * - `has_value` with no value asks that the property have at least one value; with a value, that an array
 *   contain it (or a scalar equal it).
 */
export interface RunscopeAssertion {
  source: string;
  property?: string;
  comparison: string;
  value: string | null;
}
export interface RunscopeStep {
  step_type: string;
  method?: string;
  url?: string;
  note?: string;
  headers?: Record<string, string | string[]>;
  body?: string;
  assertions?: RunscopeAssertion[];
  variables?: { source: string; property?: string; name: string }[];
  scripts?: string[];
}
export interface RunscopeSuite {
  name: string;
  steps: RunscopeStep[];
}
export interface AssertionResult {
  assertion: RunscopeAssertion;
  actual: unknown;
  pass: boolean;
}
export interface StepResult {
  status: number;
  timeMs: number;
  body: string;
  assertions: AssertionResult[];
  scriptFailures: string[];
}

export function loadRunscopeSuite(path: string): RunscopeSuite | undefined {
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as RunscopeSuite) : undefined;
}

/** The variables Okta's suite expects its environment to provide; the random ones fresh for every run. */
export function oktaVariables(scimBaseUrl: string, token: string, userIdThatDoesNotExist: string): Record<string, string> {
  const r = randomBytes(5).toString('hex');
  const userName = `runscope${r}test@atko.example`;
  return {
    SCIMBaseURL: scimBaseUrl,
    auth: `Bearer ${token}`,
    randomUsername: userName,
    // The suite first checks that no user with this userName exists, then creates it: one address for both.
    randomEmail: userName,
    randomUsernameCaps: userName.toUpperCase(),
    randomGivenName: `Given${r}`,
    randomFamilyName: `Family${r}`,
    InvalidUserEmail: `nobody-${r}@atko.example`,
    UserIdThatDoesNotExist: userIdThatDoesNotExist,
  };
}

export class RunscopeRunner {
  constructor(readonly variables: Record<string, string>) {}

  substitute(text: string): string {
    return text.replace(/\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g, (whole, name: string) => this.variables[name] ?? whole);
  }

  async run(step: RunscopeStep): Promise<StepResult> {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(step.headers ?? {})) headers[k] = this.substitute(Array.isArray(v) ? v.join(', ') : v);
    const method = (step.method ?? 'GET').toUpperCase();
    const body = step.body && method !== 'GET' ? Buffer.from(this.substitute(step.body)) : undefined;
    const started = performance.now();
    // A Buffer body adds no content type of its own: the server sees exactly the step's headers.
    const res = await fetch(new URL(this.substitute(step.url ?? '')), { method, headers, ...(body ? { body } : {}) });
    const text = await res.text();
    const timeMs = performance.now() - started;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const read = (source: string, property?: string): unknown => {
      switch (source) {
        case 'response_status':
          return res.status;
        case 'response_time':
          return timeMs;
        case 'response_text':
          return text;
        case 'response_headers':
          return property ? (res.headers.get(property) ?? undefined) : undefined;
        case 'response_json':
          return property ? readPath(json, this.substitute(property)) : json;
        default:
          return undefined;
      }
    };
    const assertions = (step.assertions ?? []).map((assertion) => {
      const actual = read(assertion.source, assertion.property);
      const expected = assertion.value === null ? null : this.substitute(assertion.value);
      return { assertion, actual, pass: compare(assertion.comparison, actual, expected) };
    });
    for (const capture of step.variables ?? []) {
      const value = read(capture.source, capture.property);
      if (value !== undefined && value !== null) this.variables[capture.name] = String(value);
    }
    const scriptFailures = (step.scripts ?? []).flatMap((script) => runScript(script, { status: res.status, body: text }, this.variables));
    return { status: res.status, timeMs, body: text, assertions, scriptFailures };
  }
}

export function readPath(value: unknown, path: string): unknown {
  const field = (v: unknown, name: string): unknown =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>)[name] : undefined;
  let current: unknown = value;
  for (const part of path.match(/[^.[\]]+|\[\d+\]/g) ?? []) {
    const index = /^\[(\d+)\]$/.exec(part);
    if (index) current = Array.isArray(current) ? current[Number(index[1])] : undefined;
    // A name applied to an array reads it from every element.
    else if (Array.isArray(current)) current = current.flatMap((v) => field(v, part) ?? []);
    else current = field(current, part);
  }
  return current;
}

const isEmpty = (v: unknown): boolean =>
  v === undefined ||
  v === null ||
  v === '' ||
  (Array.isArray(v) && v.length === 0) ||
  (typeof v === 'object' && Object.keys(v as object).length === 0);
const isNumber = (v: unknown): boolean =>
  (typeof v === 'number' && Number.isFinite(v)) || (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)));
const scalar = (v: unknown): string => (typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v));

export function compare(comparison: string, actual: unknown, expected: string | null): boolean {
  switch (comparison) {
    case 'equal':
      return actual !== undefined && scalar(actual) === expected;
    case 'not_equal':
      return scalar(actual) !== expected;
    case 'equal_number':
      return isNumber(actual) && Number(actual) === Number(expected);
    case 'empty':
      return isEmpty(actual);
    case 'not_empty':
      return !isEmpty(actual);
    case 'is_null':
      return actual === null;
    case 'is_a_number':
      return isNumber(actual);
    case 'has_value':
      if (expected === null) return !isEmpty(actual);
      return Array.isArray(actual) ? actual.some((a) => scalar(a) === expected) : scalar(actual) === expected;
    case 'contains':
      return Array.isArray(actual)
        ? actual.some((a) => scalar(a) === expected)
        : typeof actual === 'string' && expected !== null && actual.includes(expected);
    case 'does_not_contain':
      return !compare('contains', actual, expected);
    case 'is_less_than':
      return isNumber(actual) && Number(actual) < Number(expected);
    case 'is_less_than_or_equal':
      return isNumber(actual) && Number(actual) <= Number(expected);
    case 'is_greater_than':
      return isNumber(actual) && Number(actual) > Number(expected);
    case 'is_greater_than_or_equal':
      return isNumber(actual) && Number(actual) >= Number(expected);
    default:
      throw new Error(`Runscope comparison "${comparison}" is not implemented by this runner`);
  }
}

/** Runscope's script environment, reduced to what a test script may touch; a thrown assertion is a failure. */
function runScript(script: string, response: { status: number; body: string }, variables: Record<string, string>): string[] {
  const context = createContext({
    response: { status: response.status, body: response.body },
    assert: nodeAssert,
    log: () => {},
    variables: { get: (k: string) => variables[k], set: (k: string, v: unknown) => void (variables[k] = String(v)) },
  });
  try {
    runInContext(script, context, { timeout: 1000 });
    return [];
  } catch (err) {
    return [err instanceof Error ? err.message : String(err)];
  }
}
