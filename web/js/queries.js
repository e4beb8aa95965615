// The GraphQL documents of the pages (names from the public API contract).

export const PROGRESS = "progress { total pending pickedUp delivered failed percent }";

const ERRORS = `
  ... on Error { message code }
  ... on ValidationError { field }
  ... on InvalidTransitionError { from to }
  ... on NotFoundError { id }
`;

export const SESSION_CARD = `
  id name status isReadonly lastSequence createdAt startedAt completedAt
  owner { id name }
  ${PROGRESS}
`;

export const SESSIONS = `
query Sessions($status: SessionStatus, $first: Int, $after: String) {
  sessions(status: $status, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { ${SESSION_CARD} } }
  }
}`;

export const SESSION_CARD_ONE = `
query SessionCard($id: ID!) { session(id: $id) { ${SESSION_CARD} } }`;

export const CREATE_SESSION = `
mutation CreateSession($name: String!, $key: String) {
  createSession(input: {name: $name, idempotencyKey: $key}) {
    __typename
    ... on SessionSuccess { session { ${SESSION_CARD} } }
    ${ERRORS}
  }
}`;

export const SESSION_EVENT_FIELDS = `
  sessionId sequence action details createdAt
  actor { id name }
  ${PROGRESS}
`;

export const MY_SESSION_EVENTS = `
subscription MySessionEvents { mySessionEvents { ${SESSION_EVENT_FIELDS} } }`;

export const SESSION_EVENTS = `
subscription SessionEvents($sessionId: ID!, $afterSequence: Int) {
  sessionEvents(sessionId: $sessionId, afterSequence: $afterSequence) { ${SESSION_EVENT_FIELDS} }
}`;

const SESSION_DETAIL = `
  id name status isReadonly wasReused reuseCount lastSequence
  createdAt startedAt completedAt archivedAt
  owner { id name }
  ${PROGRESS}
  deliverers {
    id user { id name }
    packagesAssigned packagesDelivered packagesFailed
    baseSalary commissionPerDelivery totalEarned
  }
  financialSnapshot {
    currency totalCost delivered failed computedAt proofRequired { photo signature }
    deliverers { delivererId userId name delivered failed baseSalary commission totalEarned }
  }
`;

export const PACKAGE_ROW = `
  id barcode symbology status recipientName failureReason updatedAt deliveredAt
  address { id line city postalCode }
  deliverer { id user { id name } }
  proof { photos { url width height } signature { url } receivedBy
    location { latitude longitude accuracy } capturedAt }
`;

export const SESSION_PAGE = `
query SessionPage($id: ID!, $first: Int, $status: DeliveryStatus, $delivererId: ID) {
  session(id: $id) {
    ${SESSION_DETAIL}
    packages(first: $first, status: $status, delivererId: $delivererId) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { ${PACKAGE_ROW} } }
    }
  }
}`;

export const MORE_PACKAGES = `
query MorePackages($id: ID!, $first: Int, $after: String, $status: DeliveryStatus, $delivererId: ID) {
  session(id: $id) {
    id
    packages(first: $first, after: $after, status: $status, delivererId: $delivererId) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { ${PACKAGE_ROW} } }
    }
  }
}`;

// ---- running a session (dashboard) -------------------------------------------------------

const SESSION_RESULT = `
  __typename
  ... on SessionSuccess { session { id status lastSequence } }
  ${ERRORS}
`;

export const REUSE_SESSION = `
mutation ReuseSession($sessionId: ID!, $key: String) {
  reuseSession(input: {sessionId: $sessionId, idempotencyKey: $key}) { ${SESSION_RESULT} }
}`;

export const START_SESSION = `
mutation StartSession($sessionId: ID!, $key: String) {
  startSession(input: {sessionId: $sessionId, idempotencyKey: $key}) { ${SESSION_RESULT} }
}`;

export const PAUSE_SESSION = `
mutation PauseSession($sessionId: ID!, $key: String) {
  pauseSession(input: {sessionId: $sessionId, idempotencyKey: $key}) { ${SESSION_RESULT} }
}`;

export const RESUME_SESSION = `
mutation ResumeSession($sessionId: ID!, $key: String) {
  resumeSession(input: {sessionId: $sessionId, idempotencyKey: $key}) { ${SESSION_RESULT} }
}`;

export const COMPLETE_SESSION = `
mutation CompleteSession($sessionId: ID!, $force: Boolean, $key: String) {
  completeSession(input: {sessionId: $sessionId, force: $force, idempotencyKey: $key}) { ${SESSION_RESULT} }
}`;

export const ARCHIVE_SESSION = `
mutation ArchiveSession($sessionId: ID!, $key: String) {
  archiveSession(input: {sessionId: $sessionId, idempotencyKey: $key}) { ${SESSION_RESULT} }
}`;

// Deliverers the caller has worked with: those of their recent sessions (there is no list
// of users in the API).
export const KNOWN_DELIVERERS = `
query KnownDeliverers {
  sessions(first: 50) { edges { node { id deliverers { id user { id name role } } } } }
}`;

export const CREATE_DELIVERER_USER = `
mutation CreateDelivererUser($name: String!) {
  createUser(input: {name: $name, role: DELIVERER}) {
    __typename
    ... on CreateUserSuccess { token user { id name role } }
    ${ERRORS}
  }
}`;

export const ADD_DELIVERER = `
mutation AddDeliverer($sessionId: ID!, $userId: ID!, $baseSalary: Decimal!, $commission: Decimal!, $key: String) {
  addDeliverer(input: {sessionId: $sessionId, userId: $userId, baseSalary: $baseSalary,
                       commissionPerDelivery: $commission, idempotencyKey: $key}) {
    __typename
    ... on AddDelivererSuccess { deliverer { id user { id name } baseSalary commissionPerDelivery } }
    ${ERRORS}
  }
}`;

export const ASSIGN_PACKAGES = `
mutation AssignPackages($sessionId: ID!, $packageIds: [ID!]!, $delivererId: ID!, $key: String) {
  assignPackages(input: {sessionId: $sessionId, packageIds: $packageIds, delivererId: $delivererId, idempotencyKey: $key}) {
    __typename
    ... on AssignPackagesSuccess { packages { id } session { id lastSequence } }
    ${ERRORS}
  }
}`;

// Every package of the session, page by page: the bulk assignment and the search read them
// all (the packages connection filters by status and deliverer only).
export const ALL_PACKAGES = `
query AllPackages($id: ID!, $first: Int, $after: String, $status: DeliveryStatus, $delivererId: ID) {
  session(id: $id) {
    id
    packages(first: $first, after: $after, status: $status, delivererId: $delivererId) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { ${PACKAGE_ROW} rawText } }
    }
  }
}`;

// The server's canonical lookup: a label typed or read differently (a QR's JSON, lower case)
// still finds its package.
export const PACKAGE_BY_CODE = `
query PackageByCode($sessionId: ID!, $barcode: String!) {
  package(sessionId: $sessionId, barcode: $barcode) { ${PACKAGE_ROW} rawText }
}`;

// ---- scanner -------------------------------------------------------------------------------

export const SCANNER_SESSION = `
query ScannerSession($id: ID!) {
  session(id: $id) { id name status isReadonly lastSequence proofRequirement { photo signature } ${PROGRESS} }
}`;

export const OPEN_SESSIONS = `
query OpenSessions {
  sessions(first: 50) { edges { node { id name status isReadonly ${PROGRESS} } } }
}`;

const SCAN_PACKAGE = `
  id barcode symbology carrier status recipientName recipientFromLabel createdAt
  address { line city postalCode }
  deliverer { user { name } }
  scan { barcode elapsedMs }
`;

export const ADD_PACKAGES = `
mutation AddPackages($sessionId: ID!, $packages: [PackageInput!]!, $key: String) {
  addPackages(input: {sessionId: $sessionId, packages: $packages, idempotencyKey: $key}) {
    __typename
    ... on AddPackagesSuccess {
      added { ${SCAN_PACKAGE} }
      duplicates
      rejected { barcode reason }
      session { id lastSequence ${PROGRESS} }
    }
    ${ERRORS}
  }
}`;

export const FIND_PACKAGE = `
query FindPackage($sessionId: ID!, $barcode: String!) {
  package(sessionId: $sessionId, barcode: $barcode) { ${SCAN_PACKAGE} }
}`;

export const UPDATE_STATUS = `
mutation UpdatePackageStatus($packageId: ID!, $status: DeliveryStatus!, $key: String) {
  updatePackageStatus(input: {packageId: $packageId, status: $status, idempotencyKey: $key}) {
    __typename
    ... on PackageSuccess { package { ${SCAN_PACKAGE} } session { id lastSequence ${PROGRESS} } }
    ${ERRORS}
  }
}`;

export const UPDATE_STATUS_PROOF = `
mutation UpdatePackageStatusWithProof($input: UpdatePackageStatusInput!) {
  updatePackageStatus(input: $input) {
    __typename
    ... on PackageSuccess { package { ${SCAN_PACKAGE} proof { photos { url } signature { url } } } session { id lastSequence ${PROGRESS} } }
    ${ERRORS}
  }
}`;

export const SCAN_BARCODE = `
mutation ScanBarcode($input: ScanBarcodeInput!) {
  scanBarcode(input: $input) {
    __typename
    ... on ScanBarcodeSuccess {
      report { barcode symbology carrier method confidence elapsedMs }
      package { ${SCAN_PACKAGE} }
      session { id lastSequence ${PROGRESS} }
    }
    ${ERRORS}
  }
}`;

// ---- background jobs: manifest imports and reports ---------------------------------------------

export const JOB_FIELDS = `
  id kind status progress done failed total attempts lastError result createdAt finishedAt
`;

export const SESSION_JOBS = `
query SessionJobs($sid: ID!, $first: Int) {
  jobs(sessionId: $sid, first: $first) { edges { node { ${JOB_FIELDS} } } }
}`;

/** Read again once a job SUCCEEDED: its links are minted on every read (they expire). */
export const JOB_LINKS = `
query JobLinks($id: ID!) { job(id: $id) { ${JOB_FIELDS} downloadUrl problemsUrl } }`;

export const JOB_PROGRESS = `
subscription JobProgress($id: ID!) { jobProgress(jobId: $id) { ${JOB_FIELDS} } }`;

export const IMPORT_MANIFEST = `
mutation ImportManifest($sid: ID!, $file: Upload!, $dryRun: Boolean!, $allOrNothing: Boolean!, $key: String) {
  importManifest(sessionId: $sid, file: $file, dryRun: $dryRun, allOrNothing: $allOrNothing, idempotencyKey: $key) {
    __typename
    ... on JobSuccess { created job { ${JOB_FIELDS} } }
    ${ERRORS}
  }
}`;

export const EXPORT_REPORT = `
mutation ExportReport($sid: ID!, $format: ReportFormat!, $key: String) {
  exportSessionReport(sessionId: $sid, format: $format, idempotencyKey: $key) {
    __typename
    ... on JobSuccess { created job { ${JOB_FIELDS} } }
    ${ERRORS}
  }
}`;

export const CANCEL_JOB = `
mutation CancelJob($id: ID!) {
  cancelJob(jobId: $id) {
    __typename
    ... on JobSuccess { job { ${JOB_FIELDS} } }
    ${ERRORS}
  }
}`;
