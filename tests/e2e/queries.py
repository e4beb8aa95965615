"""GraphQL documents used by the end-to-end tests."""

ERR = """
... on Error { message code __typename }
... on InvalidTransitionError { from to }
... on ValidationError { field }
... on NotFoundError { id }
... on ReadOnlySessionError { sessionId }
"""

SESSION_FIELDS = """
id name status isReadonly wasReused reuseCount lastSequence createdAt startedAt completedAt archivedAt
owner { id name }
progress { total pending pickedUp delivered failed percent }
deliverers { id user { id name } packagesAssigned packagesDelivered packagesFailed baseSalary commissionPerDelivery totalEarned }
addresses { id line city postalCode packageCount }
financialSnapshot { currency totalCost delivered failed computedAt deliverers { delivererId userId name delivered failed baseSalary commission totalEarned } }
"""

CREATE_SESSION = f"""
mutation($name: String!, $key: String) {{
  createSession(input: {{name: $name, idempotencyKey: $key}}) {{
    __typename ... on SessionSuccess {{ session {{ {SESSION_FIELDS} }} }} {ERR}
  }}
}}"""

ADD_PACKAGES = f"""
mutation($sid: ID!, $packages: [PackageInput!]!, $key: String) {{
  addPackages(input: {{sessionId: $sid, packages: $packages, idempotencyKey: $key}}) {{
    __typename
    ... on AddPackagesSuccess {{
      session {{ id lastSequence progress {{ total }} }}
      added {{ id barcode symbology status recipientName address {{ id line packageCount }} deliverer {{ id }} }}
      duplicates rejected {{ barcode reason }}
    }}
    {ERR}
  }}
}}"""


def session_action(name: str) -> str:
    return f"""
mutation($sid: ID!, $key: String) {{
  {name}(input: {{sessionId: $sid, idempotencyKey: $key}}) {{
    __typename ... on SessionSuccess {{ session {{ {SESSION_FIELDS} }} }} {ERR}
  }}
}}"""


ADD_DELIVERER = f"""
mutation($sid: ID!, $uid: ID!, $base: Decimal!, $commission: Decimal!, $key: String) {{
  addDeliverer(input: {{sessionId: $sid, userId: $uid, baseSalary: $base, commissionPerDelivery: $commission, idempotencyKey: $key}}) {{
    __typename
    ... on AddDelivererSuccess {{ deliverer {{ id user {{ id }} baseSalary commissionPerDelivery totalEarned packagesAssigned }} session {{ id }} }}
    {ERR}
  }}
}}"""

ASSIGN = f"""
mutation($sid: ID!, $pids: [ID!]!, $did: ID!, $key: String) {{
  assignPackages(input: {{sessionId: $sid, packageIds: $pids, delivererId: $did, idempotencyKey: $key}}) {{
    __typename
    ... on AssignPackagesSuccess {{ packages {{ id deliverer {{ id }} }} session {{ deliverers {{ id packagesAssigned }} }} }}
    {ERR}
  }}
}}"""

UPDATE_STATUS = f"""
mutation($pid: ID!, $status: DeliveryStatus!, $reason: String, $key: String) {{
  updatePackageStatus(input: {{packageId: $pid, status: $status, reason: $reason, idempotencyKey: $key}}) {{
    __typename
    ... on PackageSuccess {{ package {{ id status failureReason deliveredAt }} session {{ id status lastSequence progress {{ total delivered failed percent }} }} }}
    {ERR}
  }}
}}"""

REMOVE = f"""
mutation($pid: ID!, $key: String) {{
  removePackage(input: {{packageId: $pid, idempotencyKey: $key}}) {{
    __typename ... on PackageSuccess {{ package {{ id barcode }} session {{ id progress {{ total }} }} }} {ERR}
  }}
}}"""

COMPLETE = f"""
mutation($sid: ID!, $force: Boolean, $key: String) {{
  completeSession(input: {{sessionId: $sid, force: $force, idempotencyKey: $key}}) {{
    __typename ... on SessionSuccess {{ session {{ {SESSION_FIELDS} }} }} {ERR}
  }}
}}"""

CREATE_USER = """
mutation($name: String!, $role: Role!, $tg: String) {
  createUser(input: {name: $name, role: $role, telegramId: $tg}) {
    __typename ... on CreateUserSuccess { user { id name role telegramId } token }
    ... on Error { message } ... on ValidationError { field }
  }
}"""

SESSION = f"""
query($id: ID!) {{ session(id: $id) {{ {SESSION_FIELDS}
  packages(first: 100) {{ totalCount pageInfo {{ hasNextPage endCursor }} edges {{ cursor node {{ id barcode status deliverer {{ id }} address {{ line }} failureReason }} }} }}
  audit(first: 200) {{ totalCount edges {{ node {{ sequence action actor {{ id }} details createdAt }} }} }}
}} }}"""

SESSIONS_COUNT = "{ sessions(first: 1) { totalCount } }"
