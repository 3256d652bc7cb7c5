import { resourceNotFound } from './errors.js';
import { MAX_RESULTS } from './projection.js';
import type { Json } from './resource.js';
import { GROUP_KIND, LIST_RESPONSE, SCHEMAS, USER_KIND, type AttrDef, type ResourceKind, type SchemaDef } from './schemas.js';

/**
 * The discovery endpoints (RFC 7644 §4): what this server supports, which resource types it serves and their
 * schemas. They are read-only and the same for every clinic, except that locations carry the clinic's base URL.
 * They state only what the code does: PATCH, filtering with up to `MAX_RESULTS` results, ETags; no bulk,
 * no sorting, no password change (passwords live in the clinic's identity provider).
 */
const SPC = 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig';
const RESOURCE_TYPE = 'urn:ietf:params:scim:schemas:core:2.0:ResourceType';
const SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Schema';

export function serviceProviderConfig(baseUrl: string): Json {
  return {
    schemas: [SPC],
    documentationUri: 'https://polyclinic.dev/docs/scim',
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: MAX_RESULTS },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: true },
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'Clinic SCIM token',
        description: "A bearer token created by the clinic's administrator for its identity provider; valid for this clinic only.",
        specUri: 'https://www.rfc-editor.org/rfc/rfc6750',
        primary: true,
      },
    ],
    meta: { resourceType: 'ServiceProviderConfig', location: `${baseUrl}/ServiceProviderConfig` },
  };
}

const KINDS: ResourceKind[] = [USER_KIND, GROUP_KIND];

function resourceType(kind: ResourceKind, baseUrl: string): Json {
  return {
    schemas: [RESOURCE_TYPE],
    id: kind.name,
    name: kind.name,
    endpoint: kind.endpoint,
    description: kind.core.description,
    schema: kind.core.id,
    schemaExtensions: kind.extensions.map((e) => ({ schema: e.id, required: false })),
    meta: { resourceType: 'ResourceType', location: `${baseUrl}/ResourceTypes/${kind.name}` },
  };
}

/** RFC 7643 §7 attribute definitions: every characteristic spelled out, sub-attributes nested. */
function attributeOf(def: AttrDef): Json {
  const { subAttributes, ...rest } = def;
  return {
    ...rest,
    ...(subAttributes ? { subAttributes: subAttributes.map(attributeOf) } : {}),
  };
}

function schemaOf(schema: SchemaDef, baseUrl: string): Json {
  return {
    schemas: [SCHEMA],
    id: schema.id,
    name: schema.name,
    description: schema.description,
    attributes: schema.attributes.map(attributeOf),
    meta: { resourceType: 'Schema', location: `${baseUrl}/Schemas/${schema.id}` },
  };
}

const list = (resources: Json[]): Json => ({
  schemas: [LIST_RESPONSE],
  totalResults: resources.length,
  startIndex: 1,
  itemsPerPage: resources.length,
  Resources: resources,
});

export const resourceTypes = (baseUrl: string): Json => list(KINDS.map((k) => resourceType(k, baseUrl)));

export function oneResourceType(name: string, baseUrl: string): Json {
  const kind = KINDS.find((k) => k.name.toLowerCase() === name.toLowerCase());
  if (!kind) throw resourceNotFound('ResourceType', name);
  return resourceType(kind, baseUrl);
}

export const schemas = (baseUrl: string): Json => list(SCHEMAS.map((s) => schemaOf(s, baseUrl)));

export function oneSchema(id: string, baseUrl: string): Json {
  const schema = SCHEMAS.find((s) => s.id.toLowerCase() === id.toLowerCase());
  if (!schema) throw resourceNotFound('Schema', id);
  return schemaOf(schema, baseUrl);
}
