import Type, { type Static } from 'typebox';
import { Timestamp, Uuid } from './common.ts';
import { Top } from './webhooks.ts';

/** The admin API (contract §7): service applications and the directory, for platform teams. [ext] */

/** Client ids are the built-in issuer's (service-…) or an external issuer's: printable ASCII, no spaces. */
export const CLIENT_ID_PATTERN = '^[\\x21-\\x7E]{1,256}$';
const ClientIdString = (description: string) => Type.String({ pattern: CLIENT_ID_PATTERN, description });
/** Checked against the known permissions by the route (auth/scopes.ts, above this layer). */
const Permission = Type.String({ minLength: 1, maxLength: 100, description: 'The permission on the iTwin: webhooks_maintainer.' });
const Link = Type.Object({ href: Type.String() }, { additionalProperties: false });
const Links = Type.Object({ self: Link, next: Type.Optional(Link) }, { additionalProperties: false });
const ContinuationToken = Type.String({ minLength: 1, maxLength: 1024, description: 'Opaque; from _links.next of the page before.' });

export const MAX_SYNC = { itwins: 10_000, grants: 20_000, orgAdmins: 1_000 } as const;

// ------------------------------------------------------------------ clients

const clientProperties = {
  clientId: Type.String({ description: 'The client id (OAuth2 client_id).' }),
  name: Type.String(),
  accountId: Type.String({ description: 'The account (organization) the application belongs to.' }),
  scopes: Type.Array(Type.String()),
  created: Timestamp('When the client was registered.'),
  previousSecretExpiresDateTime: Type.Optional(Timestamp('After a rotation: until when the previous secret still works.')),
};
export const AdminClient = Type.Object(clientProperties, { additionalProperties: false, title: 'AdminClient' });
export const AdminClientWithSecret = Type.Object(
  { ...clientProperties, clientSecret: Type.String({ description: 'The client secret: shown in this answer only.' }) },
  { additionalProperties: false, title: 'AdminClientWithSecret' },
);
export const AdminClientList = Type.Object({ clients: Type.Array(AdminClient), _links: Links }, { additionalProperties: false, title: 'AdminClientList' });

export const CreateClientBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100, description: 'Display name of the application.' }),
    accountId: Uuid('The account (organization) the application belongs to.'),
    scopes: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 100 }), {
        minItems: 1,
        uniqueItems: true,
        description: 'Scopes it may have (itwin-platform, webhooks:read, webhooks:modify, webhooks:publish, webhooks:admin); default itwin-platform webhooks:read webhooks:modify.',
      }),
    ),
  },
  { additionalProperties: false, title: 'CreateClientRequest' },
);
export type CreateClientBody = Static<typeof CreateClientBody>;

export const RotateSecretBody = Type.Object(
  {
    overlapSeconds: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 7 * 86_400, description: 'How long the previous secret keeps working (default 86400, a day; 0: it stops now).' }),
    ),
    revokeTokens: Type.Optional(Type.Boolean({ description: 'Also end every token issued before, in every process (default false).' })),
  },
  { additionalProperties: false, title: 'RotateSecretRequest' },
);
export type RotateSecretBody = Static<typeof RotateSecretBody>;

export const RotatedSecret = Type.Object(
  {
    clientId: Type.String(),
    clientSecret: Type.String({ description: 'The new secret: shown in this answer only.' }),
    previousSecretExpiresDateTime: Type.Optional(Timestamp('Until when the previous secret still works (absent: it no longer does).')),
    tokensRevoked: Type.Boolean({ description: 'Whether the tokens issued before were ended.' }),
  },
  { additionalProperties: false, title: 'RotatedSecret' },
);

export const ClientsQuery = Type.Object(
  { accountId: Type.Optional(Uuid('Only the clients of this account.')), $top: Type.Optional(Top), $continuationToken: Type.Optional(ContinuationToken) },
  { additionalProperties: false },
);
export const ClientParams = Type.Object({ clientId: Type.String() });

// ------------------------------------------------------------------ directory

export const AdminItwin = Type.Object(
  { itwinId: Type.String(), accountId: Type.String(), created: Timestamp('When the iTwin was added to the directory.') },
  { additionalProperties: false, title: 'AdminItwin' },
);
export const AdminItwinList = Type.Object({ itwins: Type.Array(AdminItwin), _links: Links }, { additionalProperties: false, title: 'AdminItwinList' });
export const PutItwinBody = Type.Object(
  { accountId: Uuid('The account that owns the iTwin. A different one moves it there, which drops every grant on it.') },
  { additionalProperties: false, title: 'PutItwinRequest' },
);
export type PutItwinBody = Static<typeof PutItwinBody>;
export const ItwinsQuery = Type.Object(
  { accountId: Type.Optional(Uuid('Only the iTwins of this account.')), $top: Type.Optional(Top), $continuationToken: Type.Optional(ContinuationToken) },
  { additionalProperties: false },
);
export const ItwinParams = Type.Object({ itwinId: Type.String() });

export const AdminGrant = Type.Object(
  { clientId: Type.String(), itwinId: Type.String(), permission: Type.String(), created: Timestamp('When the permission was granted.') },
  { additionalProperties: false, title: 'AdminGrant' },
);
export const AdminGrantList = Type.Object({ grants: Type.Array(AdminGrant), _links: Links }, { additionalProperties: false, title: 'AdminGrantList' });
export const GrantsQuery = Type.Object(
  {
    clientId: Type.Optional(ClientIdString('Only the grants of this application.')),
    itwinId: Type.Optional(Uuid('Only the grants on this iTwin.')),
    $top: Type.Optional(Top),
    $continuationToken: Type.Optional(ContinuationToken),
  },
  { additionalProperties: false },
);
export const GrantParams = Type.Object({ clientId: Type.String(), itwinId: Type.String(), permission: Type.String() });

export const AdminOrgAdmin = Type.Object(
  { clientId: Type.String(), accountId: Type.String(), created: Timestamp('Since when the application is Organization Administrator.') },
  { additionalProperties: false, title: 'AdminOrgAdmin' },
);
export const AdminOrgAdminList = Type.Object({ orgAdmins: Type.Array(AdminOrgAdmin), _links: Links }, { additionalProperties: false, title: 'AdminOrgAdminList' });
export const OrgAdminsQuery = Type.Object(
  {
    accountId: Type.Optional(Uuid('Only the administrators of this account.')),
    clientId: Type.Optional(ClientIdString('Only the accounts this application administers.')),
    $top: Type.Optional(Top),
    $continuationToken: Type.Optional(ContinuationToken),
  },
  { additionalProperties: false },
);
export const OrgAdminParams = Type.Object({ clientId: Type.String(), accountId: Type.String() });

const GrantEntry = Type.Object(
  { clientId: ClientIdString('The application.'), itwinId: Uuid('One of the iTwins of this set.'), permission: Permission },
  { additionalProperties: false },
);
export const AccountDirectoryBody = Type.Object(
  {
    itwins: Type.Array(Uuid(), { maxItems: MAX_SYNC.itwins, description: 'Every iTwin of the account (one of another account moves here).' }),
    grants: Type.Array(GrantEntry, { maxItems: MAX_SYNC.grants, description: 'Every permission granted on those iTwins.' }),
    orgAdmins: Type.Array(ClientIdString('An application.'), { maxItems: MAX_SYNC.orgAdmins, description: 'The Organization Administrators of the account.' }),
  },
  { additionalProperties: false, title: 'AccountDirectory' },
);
export type AccountDirectoryBody = Static<typeof AccountDirectoryBody>;
export const AccountDirectoryAnswer = Type.Object(
  { accountId: Type.String(), ...AccountDirectoryBody.properties },
  { additionalProperties: false, title: 'AccountDirectoryState' },
);
const GrantKeyList = Type.Array(Type.Object({ clientId: Type.String(), itwinId: Type.String(), permission: Type.String() }, { additionalProperties: false }));
export const DirectorySyncAnswer = Type.Object(
  {
    accountId: Type.String(),
    itwins: Type.Object(
      {
        added: Type.Array(Type.String()),
        removed: Type.Array(Type.String()),
        moved: Type.Array(Type.Object({ itwinId: Type.String(), fromAccountId: Type.String() }, { additionalProperties: false }), {
          description: 'iTwins that belonged to another account (their grants there were dropped).',
        }),
      },
      { additionalProperties: false },
    ),
    grants: Type.Object({ added: GrantKeyList, removed: GrantKeyList }, { additionalProperties: false }),
    orgAdmins: Type.Object({ added: Type.Array(Type.String()), removed: Type.Array(Type.String()) }, { additionalProperties: false }),
    webhooksDeactivated: Type.Array(Type.String(), { description: 'Webhooks whose owners lost the right to them, deactivated by this change.' }),
  },
  { additionalProperties: false, title: 'DirectorySyncResult' },
);
export const AccountParams = Type.Object({ accountId: Type.String() });
