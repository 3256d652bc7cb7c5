import type { FastifyInstance, RouteOptions } from 'fastify';

/** Every route under this prefix is a clinic route: `clinicScope` (`clinic-scope.ts`) registers it. */
export const CLINIC_PREFIX = '/api/v1/clinics/:clinicId';
/** Every route under this prefix is a patient route: `patientScope` (`patient-scope.ts`) registers it. */
export const PATIENT_PREFIX = `${CLINIC_PREFIX}/portal`;
/** Every route under this prefix is an operator route: `operatorScope` (`operator-scope.ts`) registers it. */
export const OPERATOR_PREFIX = '/api/v1/platform';

/** Every route under this prefix is a clinic's FHIR route: `fhirScope` (`fhir/scope.ts`) registers it. */
export const FHIR_BOUNDARY_PREFIX = '/fhir/R4/';

type Boundary = 'clinic' | 'patient' | 'operator' | 'fhir';
// The first that matches guards a route: the patient portal before the rest of the clinic.
const BOUNDARIES = [
  { path: `${PATIENT_PREFIX}/`, boundary: 'patient', plugin: 'patientScope' },
  { path: CLINIC_PREFIX.slice(0, CLINIC_PREFIX.indexOf(':')), boundary: 'clinic', plugin: 'clinicScope' },
  { path: `${OPERATOR_PREFIX}/`, boundary: 'operator', plugin: 'operatorScope' },
  { path: FHIR_BOUNDARY_PREFIX, boundary: 'fhir', plugin: 'fhirScope' },
] as const;

/**
 * The routes each boundary plugin registered, by identity of the route's options (the object every onRoute
 * hook sees). Private to this module, so a route cannot claim a boundary by what it declares: only the plugin
 * that ran its checks can mark it.
 */
const marked = new WeakMap<RouteOptions, Boundary>();

/** Called by a boundary plugin's onRoute hook for each of its routes. */
export function markBoundary(route: RouteOptions, boundary: Boundary): void {
  marked.set(route, boundary);
}

/**
 * A route under a guarded prefix that was registered outside its boundary plugin would be reachable without
 * the plugin's checks. Every route is noted as it is registered and checked once the app is assembled; one
 * stray route stops the start.
 */
export function enforceBoundaries(app: FastifyInstance): void {
  const routes: RouteOptions[] = [];
  app.addHook('onRoute', (route) => void routes.push(route));
  app.addHook('onReady', async () => {
    for (const route of routes) {
      const guard = BOUNDARIES.find((b) => `${route.url}/`.startsWith(b.path));
      if (guard && marked.get(route) !== guard.boundary)
        throw new Error(
          `${String(route.method)} ${route.url} is outside ${guard.plugin}: register it inside the ${guard.boundary} boundary plugin`,
        );
    }
  });
}
