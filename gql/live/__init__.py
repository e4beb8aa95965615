"""GraphQL delivery of live events over graphql-transport-ws.

`transport` is our websocket handler (parking, the caller's periodic re-check), `direct`
parks idle subscriptions and writes events to their sockets, `encoding` encodes each event
once per group of identical subscriptions, `executor` hands a subscription's executor to
`direct`. `internals` lists what of Strawberry and graphql-core all this relies on.
The hub itself is the top-level `live` package, which knows nothing of GraphQL.
"""
