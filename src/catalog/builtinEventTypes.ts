/**
 * Built-in event-type catalog of the iTwin Platform Webhooks API (v2).
 *
 * Each entry describes one event type a webhook can subscribe to: its name
 * (`<service>.<event>.v<N>`), a one-sentence description, a JSON Schema for
 * the event's `content` object and a realistic example of that content.
 *
 * The catalog is data-driven: every content field is declared once in
 * `FIELDS`, and each event lists its fields through its example, so the
 * schema's `properties`/`required` and the example cannot drift apart.
 *
 * Key casing is deliberately NOT uniform. The keys mirror what each producing
 * service publishes on the iTwin Platform, and those services define their
 * payloads independently: iModels events say `imodelId`, whereas the
 * Synchronization and Changed Elements events say `iModelId` (and
 * Transformations says `targetIModelId`). Receivers look keys up
 * case-sensitively, so "fixing" the casing here would break every consumer
 * written against the real platform. Keep it as it is.
 */

export interface EventTypeDefinition {
  /** Full event type name, e.g. "iModels.iModelCreated.v1". */
  type: string;
  /** The part of `type` before the first dot, e.g. "iModels". */
  service: string;
  /** One sentence: what happened. */
  description: string;
  /** JSON Schema (draft 2020-12 subset, Ajv 8 + ajv-formats) of the event's `content`. */
  contentSchema: Record<string, unknown>;
  /** Realistic example `content` that validates against `contentSchema`. */
  example: Record<string, unknown>;
}

type FieldSchema = Record<string, unknown>;

const uuid = (description: string): FieldSchema => ({ type: 'string', format: 'uuid', description });
const text = (description: string, maxLength: number): FieldSchema => ({
  type: 'string',
  minLength: 1,
  maxLength,
  description,
});
const oneOf = (values: readonly string[], description: string): FieldSchema => ({
  type: 'string',
  enum: [...values],
  description,
});

/** Shared field definitions, keyed by content property name. */
const FIELDS: Readonly<Record<string, FieldSchema>> = {
  // iModels
  imodelId: uuid('Id of the iModel.'),
  userId: uuid('Id of the user who performed the action.'),
  namedVersionId: uuid('Id of the named version.'),
  namedVersionName: text('Display name of the named version.', 255),
  changesetId: {
    type: 'string',
    pattern: '^[0-9a-f]{40}$',
    description: 'Id of the changeset: 40 lower-case hexadecimal characters.',
  },
  changesetIndex: { type: 'integer', minimum: 0, description: 'Index of the changeset in the iModel timeline.' },

  // Access Control
  memberId: uuid('Id of the iTwin member (user, group or service application).'),
  memberType: oneOf(['User', 'Group', 'ServiceApplication'], 'Kind of iTwin member.'),
  roleId: uuid('Id of the role.'),
  roleName: text('Display name of the role.', 255),
  eventCreatedBy: uuid('Id of the user who performed the action.'),
  invitationId: uuid('Id of the invitation.'),

  // iTwins
  parentId: uuid('Id of the parent iTwin.'),
  accountOwnerId: uuid('Id of the owner of the iTwin account.'),
  accountOwnerType: oneOf(['Organization', 'User'], 'Kind of account owner.'),
  iTwinClass: oneOf(['Thing', 'Endeavor', 'Account'], 'Class of the iTwin.'),
  iTwinSubClass: text('Subclass of the iTwin, e.g. "Project" or "Asset".', 64),

  // Synchronization and Changed Elements (note the `iModelId` casing)
  iModelId: uuid('Id of the iModel.'),
  synchronizationId: uuid('Id of the synchronization run.'),
  // Not a GUID on the platform: connection ids are opaque base64url strings.
  connectionId: {
    type: 'string',
    minLength: 1,
    maxLength: 256,
    pattern: '^[A-Za-z0-9_-]+$',
    description: 'Id of the synchronization connection (an opaque base64url string, not a GUID).',
  },
  result: text('Outcome of the synchronization run, e.g. "Success" or "PartialSuccess".', 64),

  // Transformations
  transformationId: uuid('Id of the transformation run.'),
  sourceITwinId: uuid('Id of the source iTwin.'),
  targetITwinId: uuid('Id of the target iTwin.'),
  targetIModelId: uuid('Id of the target iModel.'),
  configurationId: uuid('Id of the transformation configuration.'),
  transformType: text('Kind of transformation, e.g. "FilterByViewDefinition".', 128),

  // Jobs (Reality Modeling / Analysis / Conversion, Changed Elements)
  jobId: uuid('Id of the job.'),
  status: text('Final status of the job, e.g. "Success", "Failed" or "Cancelled".', 64),
  jobSucceeded: { type: 'boolean', description: 'Whether the job succeeded.' },

  // Forms and Issues
  attachmentId: uuid('Id of the attachment.'),
  formId: uuid('Id of the form data instance.'),
  issueId: uuid('Id of the issue.'),
  discipline: text('Discipline of the form, e.g. "Structural".', 255),
};

/**
 * Builds one catalog entry. The example's keys are the event's fields: each is
 * declared from `FIELDS` (or `overrides`) and all of them are required.
 */
function defineEvent(
  type: string,
  description: string,
  example: Record<string, unknown>,
  overrides: Readonly<Record<string, FieldSchema>> = {},
): EventTypeDefinition {
  const required = Object.keys(example);
  const properties: Record<string, FieldSchema> = {};
  for (const key of required) {
    const field = overrides[key] ?? FIELDS[key];
    if (field === undefined) throw new Error(`builtin event ${type}: no field definition for "${key}"`);
    properties[key] = structuredClone(field); // no object is shared between schemas
  }
  return Object.freeze({
    type,
    service: type.slice(0, type.indexOf('.')),
    description,
    contentSchema: {
      title: `${type} content`,
      type: 'object',
      required,
      properties,
      additionalProperties: true,
    },
    example,
  });
}

// Fixed, realistic example ids (UUID v4). Related events share ids on purpose.
const ITWIN_ID = '5bdcb046-cc6c-4c01-8246-9318cb6afd83';
const PARENT_ITWIN_ID = '96bbc07c-2e85-4f94-a171-c415a57c0d71';
const TARGET_ITWIN_ID = '43b18172-702f-4a71-856a-cc8ba5e7aa1e';
const ORGANIZATION_ID = '14aa3346-f263-44ec-8ca1-af495e975968';
const IMODEL_ID = '4b2ec11f-908e-43a6-a012-73f5f61d9365';
const USER_ID = 'b381a5c9-f8b8-4792-899b-96740f082f07';
const OTHER_USER_ID = '665a9611-1038-497b-8937-8db2f4e243af';
const GROUP_ID = '53c6c57a-9f1f-47f9-aa01-85f8328bd896';
const SERVICE_APP_ID = 'c5c95e7d-2b4f-4804-9dbe-100bcf0bccbc';
const PROJECT_MANAGER_ROLE_ID = '31a551ea-e18c-4c33-922f-e01027683636';
const REVIEWER_ROLE_ID = '8f1f3389-4051-47ef-9567-cf52e87e9680';
const CONTRIBUTOR_ROLE_ID = '868261f6-ed8f-472b-852f-79af48ca4fa9';
const FORM_ID = '1ef15f82-9c60-4311-bb41-826ff09fb0ee';
const FORM_ATTACHMENT_ID = '3f21d1bd-5c1e-4c91-be5b-be798bba104b';
const ISSUE_ID = 'f08d34a4-fdc3-4fba-8570-6a1c8c490304';
const ISSUE_ATTACHMENT_ID = 'd671dd08-9709-40fa-8a0e-9455c30882ec';

export const BUILTIN_EVENT_TYPES: readonly EventTypeDefinition[] = Object.freeze([
  // --- iModels -------------------------------------------------------------
  defineEvent('iModels.iModelCreated.v1', 'An iModel was created in an iTwin.', {
    imodelId: IMODEL_ID,
    userId: USER_ID,
  }),
  defineEvent('iModels.iModelDeleted.v1', 'An iModel was deleted from an iTwin.', {
    imodelId: IMODEL_ID,
    userId: USER_ID,
  }),
  defineEvent('iModels.namedVersionCreated.v1', 'A named version was created on an iModel changeset.', {
    imodelId: IMODEL_ID,
    namedVersionId: 'c553b421-00ff-4696-8d42-cd4e9ae274ef',
    namedVersionName: 'Issued for Construction - Rev B',
    changesetId: 'feaff3e57bb9c12e8894fbfb03afea5a14c876d3',
    changesetIndex: 1287,
    userId: USER_ID,
  }),
  defineEvent('iModels.changesReady.v1', 'A changeset pushed to an iModel was processed and its changes are ready.', {
    imodelId: IMODEL_ID,
    changesetId: 'df86d0e11744f7a0f2719e8aff0b1fbee54c4075',
    changesetIndex: 1288,
    userId: OTHER_USER_ID,
  }),

  // --- Access Control ------------------------------------------------------
  defineEvent('accessControl.memberAdded.v1', 'A member was added to an iTwin with a role.', {
    memberId: OTHER_USER_ID,
    memberType: 'User',
    roleId: PROJECT_MANAGER_ROLE_ID,
    roleName: 'Project Manager',
    eventCreatedBy: USER_ID,
  }),
  defineEvent('accessControl.memberRemoved.v1', 'A member was removed from an iTwin.', {
    memberId: OTHER_USER_ID,
    memberType: 'User',
    eventCreatedBy: USER_ID,
  }),
  defineEvent('accessControl.roleAssigned.v1', 'A role was assigned to a member of an iTwin.', {
    memberId: GROUP_ID,
    memberType: 'Group',
    roleId: REVIEWER_ROLE_ID,
    roleName: 'Design Reviewer',
    eventCreatedBy: USER_ID,
  }),
  defineEvent('accessControl.roleUnassigned.v1', 'A role was unassigned from a member of an iTwin.', {
    memberId: SERVICE_APP_ID,
    memberType: 'ServiceApplication',
    roleId: CONTRIBUTOR_ROLE_ID,
    roleName: 'Contributor',
    eventCreatedBy: USER_ID,
  }),
  defineEvent('accessControl.invitationCreated.v1', 'An invitation to join an iTwin was created for a user outside its organization.', {
    invitationId: '539e4bc6-11c2-478e-83e6-52508fc754d8',
  }),

  // --- iTwins --------------------------------------------------------------
  defineEvent('iTwins.iTwinCreated.v1', 'An iTwin was created.', {
    eventCreatedBy: USER_ID,
    parentId: PARENT_ITWIN_ID,
    accountOwnerId: ORGANIZATION_ID,
    accountOwnerType: 'Organization',
    iTwinClass: 'Endeavor',
    iTwinSubClass: 'Project',
  }),
  defineEvent('iTwins.iTwinDeleted.v1', 'An iTwin was deleted.', {
    eventCreatedBy: USER_ID,
  }),

  // --- Synchronization -----------------------------------------------------
  defineEvent('synchronization.jobCompleted.v1', 'A synchronization run that imports source files into an iModel finished.', {
    synchronizationId: '303250cf-1add-4ccf-8daf-cfd6526e689e',
    iModelId: IMODEL_ID,
    connectionId: 'u1-YToWecOIkbq5prntE_n2iMsvmQ8RO4jXKbt4qNo8',
    result: 'Success',
  }),

  // --- Transformations -----------------------------------------------------
  defineEvent(
    'transformations.jobCompleted.v1',
    'A transformation run from a source iModel into a target iModel finished.',
    {
      transformationId: '8698fd9c-2a2d-4c09-85ca-2459e75dd78c',
      status: 'Succeeded',
      sourceITwinId: ITWIN_ID,
      targetITwinId: TARGET_ITWIN_ID,
      targetIModelId: 'eeb06b24-f9c6-44ef-a5a2-c65555a9b4e9',
      configurationId: '4db2ab6e-3177-42da-be4b-457801c10fc0',
      transformType: 'FilterByViewDefinition',
    },
    {
      // Terminal states of a transformation run in the Transformations API.
      status: oneOf(['Succeeded', 'Failed', 'Aborted'], 'Final status of the transformation run.'),
    },
  ),

  // --- Reality services ----------------------------------------------------
  defineEvent('realityModeling.jobCompleted.v1', 'A Reality Modeling job finished.', {
    jobId: '82d5f698-a874-47fb-85e0-55e39a1bb750',
    status: 'Success',
  }),
  defineEvent('realityAnalysis.jobCompleted.v1', 'A Reality Analysis job finished.', {
    jobId: 'dabbd627-5012-473a-82eb-6f577211b8e2',
    status: 'Success',
  }),
  defineEvent('realityConversion.jobCompleted.v1', 'A Reality Conversion job finished.', {
    jobId: '427d741c-3ec9-4642-a99a-d92544e61af9',
    status: 'Failed',
  }),

  // --- Changed Elements ----------------------------------------------------
  defineEvent('changedElements.jobCompleted.v1', 'A Changed Elements comparison job between two changesets of an iModel finished.', {
    jobId: '937bcd0a-063f-4f84-abbf-08cbe4515c8a',
    iModelId: IMODEL_ID,
    jobSucceeded: true,
  }),

  // --- Forms ---------------------------------------------------------------
  defineEvent('forms.attachmentAttached.v1', 'An attachment was attached to a form.', {
    attachmentId: FORM_ATTACHMENT_ID,
    formId: FORM_ID,
    discipline: 'Structural',
  }),
  defineEvent('forms.attachmentUnattached.v1', 'An attachment was detached from a form.', {
    attachmentId: FORM_ATTACHMENT_ID,
    formId: FORM_ID,
    discipline: 'Structural',
  }),

  // --- Issues --------------------------------------------------------------
  defineEvent('issues.attachmentAttached.v1', 'An attachment was attached to an issue.', {
    attachmentId: ISSUE_ATTACHMENT_ID,
    issueId: ISSUE_ID,
  }),
  defineEvent('issues.attachmentUnattached.v1', 'An attachment was detached from an issue.', {
    attachmentId: ISSUE_ATTACHMENT_ID,
    issueId: ISSUE_ID,
  }),
]);
