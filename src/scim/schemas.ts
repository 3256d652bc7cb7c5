/**
 * The SCIM schemas this server speaks (RFC 7643 §4, §8.7.1), as data. One definition drives three things:
 * the `/Schemas` discovery answer, the canonicalisation of every incoming body (attribute names are
 * case-insensitive in SCIM, so `Primary` and `primary` are one attribute; unknown attributes are dropped), and
 * the resolution of filter and PATCH paths.
 */
export const CORE_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const ENTERPRISE_USER = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const CORE_GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const LIST_RESPONSE = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const ERROR_MESSAGE = 'urn:ietf:params:scim:api:messages:2.0:Error';

export type AttrType = 'string' | 'boolean' | 'decimal' | 'integer' | 'dateTime' | 'reference' | 'complex' | 'binary';

export interface AttrDef {
  name: string;
  type: AttrType;
  multiValued: boolean;
  description: string;
  required: boolean;
  caseExact: boolean;
  mutability: 'readOnly' | 'readWrite' | 'immutable' | 'writeOnly';
  returned: 'always' | 'never' | 'default' | 'request';
  uniqueness: 'none' | 'server' | 'global';
  subAttributes?: AttrDef[];
  canonicalValues?: string[];
  referenceTypes?: string[];
}

export interface SchemaDef {
  id: string;
  name: string;
  description: string;
  attributes: AttrDef[];
}

type Options = Partial<Omit<AttrDef, 'name' | 'type' | 'description' | 'subAttributes'>>;

const attr = (name: string, type: AttrType, description: string, o: Options = {}): AttrDef => ({
  name,
  type,
  multiValued: false,
  description,
  required: false,
  caseExact: false,
  mutability: 'readWrite',
  returned: 'default',
  uniqueness: 'none',
  ...o,
});
const complex = (name: string, description: string, subAttributes: AttrDef[], o: Options = {}): AttrDef => ({
  ...attr(name, 'complex', description, o),
  subAttributes,
});

/** The usual shape of a multi-valued attribute: value, display, type and one primary. */
const plural = (name: string, description: string, types: string[], valueType: AttrType = 'string'): AttrDef =>
  complex(
    name,
    description,
    [
      attr('value', valueType, `The ${name} value.`),
      attr('display', 'string', 'A human-readable name, primarily used for display purposes.', { mutability: 'readOnly' }),
      attr('type', 'string', 'A label indicating the function of the value.', types.length ? { canonicalValues: types } : {}),
      attr('primary', 'boolean', 'Whether this is the preferred value; true at most once.'),
    ],
    { multiValued: true },
  );

export const USER_SCHEMA: SchemaDef = {
  id: CORE_USER,
  name: 'User',
  description: 'User Account',
  attributes: [
    attr('userName', 'string', 'Unique identifier for the User, used to sign in; unique within the clinic.', {
      required: true,
      uniqueness: 'server',
    }),
    complex('name', "The components of the user's real name.", [
      attr('formatted', 'string', 'The full name, formatted for display.'),
      attr('familyName', 'string', 'The family name.'),
      attr('givenName', 'string', 'The given name.'),
      attr('middleName', 'string', 'The middle name(s).'),
      attr('honorificPrefix', 'string', 'The honorific prefix(es), e.g. Dr.'),
      attr('honorificSuffix', 'string', 'The honorific suffix(es).'),
    ]),
    attr('displayName', 'string', 'The name of the User, suitable for display.'),
    attr('nickName', 'string', 'The casual way to address the user.'),
    attr('profileUrl', 'reference', "A URI of the user's online profile.", { referenceTypes: ['external'] }),
    attr('title', 'string', "The user's title, such as 'Charge Nurse'."),
    attr('userType', 'string', 'The relationship between the organization and the user.'),
    attr('preferredLanguage', 'string', "The user's preferred written or spoken language."),
    attr('locale', 'string', "The user's default location for localisation."),
    attr('timezone', 'string', "The user's time zone in IANA format."),
    attr('active', 'boolean', "The user's administrative status; false revokes access at once."),
    attr('password', 'string', 'Not stored: sign-in is through the clinic identity provider.', {
      mutability: 'writeOnly',
      returned: 'never',
    }),
    // As `plural`, but `display` is writable: directories send it.
    complex(
      'emails',
      'Email addresses for the user.',
      [
        attr('value', 'string', 'Email address for the user.'),
        attr('display', 'string', 'A human-readable name, primarily used for display purposes.'),
        attr('type', 'string', 'A label indicating the function of the address.', { canonicalValues: ['work', 'home', 'other'] }),
        attr('primary', 'boolean', 'Whether this is the preferred email address.'),
      ],
      { multiValued: true },
    ),
    plural('phoneNumbers', 'Phone numbers for the user.', ['work', 'home', 'mobile', 'fax', 'pager', 'other']),
    plural('ims', 'Instant messaging addresses for the user.', ['aim', 'gtalk', 'icq', 'xmpp', 'msn', 'skype', 'qq', 'yahoo']),
    plural('photos', 'URLs of photos of the user.', ['photo', 'thumbnail'], 'reference'),
    complex(
      'addresses',
      'Physical mailing addresses for this user.',
      [
        attr('formatted', 'string', 'The full mailing address, formatted for display.'),
        attr('streetAddress', 'string', 'The full street address component.'),
        attr('locality', 'string', 'The city or locality component.'),
        attr('region', 'string', 'The state or region component.'),
        attr('postalCode', 'string', 'The zip code or postal code component.'),
        attr('country', 'string', 'The country name component.'),
        attr('type', 'string', 'A label indicating the function of the address.', { canonicalValues: ['work', 'home', 'other'] }),
        attr('primary', 'boolean', 'Whether this is the preferred address.'),
      ],
      { multiValued: true },
    ),
    complex(
      'groups',
      'The groups the user belongs to; managed through the Groups endpoint.',
      [
        attr('value', 'string', 'The id of the group.', { mutability: 'readOnly' }),
        attr('$ref', 'reference', 'The URI of the group.', { mutability: 'readOnly', referenceTypes: ['Group'] }),
        attr('display', 'string', 'The display name of the group.', { mutability: 'readOnly' }),
        attr('type', 'string', 'direct or indirect.', { mutability: 'readOnly', canonicalValues: ['direct', 'indirect'] }),
      ],
      { multiValued: true, mutability: 'readOnly' },
    ),
    plural('entitlements', 'Entitlements of the user.', []),
    plural('roles', 'Roles of the user in the directory (clinic roles come from group mapping).', []),
    plural('x509Certificates', 'X.509 certificates issued to the user.', [], 'binary'),
  ],
};

export const ENTERPRISE_SCHEMA: SchemaDef = {
  id: ENTERPRISE_USER,
  name: 'EnterpriseUser',
  description: 'Enterprise User',
  attributes: [
    attr('employeeNumber', 'string', 'Numeric or alphanumeric identifier assigned to a person by the organization.'),
    attr('costCenter', 'string', 'Identifies the name of a cost center.'),
    attr('organization', 'string', 'Identifies the name of an organization.'),
    attr('division', 'string', 'Identifies the name of a division.'),
    attr('department', 'string', 'Identifies the name of a department.'),
    complex('manager', "The user's manager.", [
      attr('value', 'string', 'The id of the SCIM resource representing the manager.'),
      attr('$ref', 'reference', 'The URI of the manager.', { referenceTypes: ['User'] }),
      attr('displayName', 'string', 'The display name of the manager.', { mutability: 'readOnly' }),
    ]),
  ],
};

export const GROUP_SCHEMA: SchemaDef = {
  id: CORE_GROUP,
  name: 'Group',
  description: 'Group',
  attributes: [
    attr('displayName', 'string', 'A human-readable name for the Group; role mapping rules match on it.', { required: true }),
    complex(
      'members',
      'A list of members of the Group; only users of this clinic.',
      [
        attr('value', 'string', 'Identifier of the member of this Group.', { mutability: 'immutable' }),
        attr('$ref', 'reference', 'The URI of the member.', { mutability: 'immutable', referenceTypes: ['User'] }),
        attr('display', 'string', 'A human-readable name for the member.'),
        attr('type', 'string', 'The type of the member.', { mutability: 'immutable', canonicalValues: ['User'] }),
      ],
      { multiValued: true },
    ),
  ],
};

export const SCHEMAS: SchemaDef[] = [USER_SCHEMA, ENTERPRISE_SCHEMA, GROUP_SCHEMA];

/** A resource type: its core schema and the extension schemas it accepts. */
export interface ResourceKind {
  name: 'User' | 'Group';
  endpoint: '/Users' | '/Groups';
  core: SchemaDef;
  extensions: SchemaDef[];
}

export const USER_KIND: ResourceKind = { name: 'User', endpoint: '/Users', core: USER_SCHEMA, extensions: [ENTERPRISE_SCHEMA] };
export const GROUP_KIND: ResourceKind = { name: 'Group', endpoint: '/Groups', core: GROUP_SCHEMA, extensions: [] };

/** Case-insensitive attribute lookup, as RFC 7643 §2.1 asks. */
export function findAttr(attrs: readonly AttrDef[] | undefined, name: string): AttrDef | undefined {
  const lower = name.toLowerCase();
  return attrs?.find((a) => a.name.toLowerCase() === lower);
}

/** The schema a URN names within a resource kind (core or one of its extensions), case-insensitively. */
export function findSchema(kind: ResourceKind, urn: string): SchemaDef | undefined {
  const lower = urn.toLowerCase();
  return [kind.core, ...kind.extensions].find((s) => s.id.toLowerCase() === lower);
}
