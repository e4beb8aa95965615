"""The live-events hub: per-session feeds read from the audit table, resumable and gapless.

`live.hub` holds the feeds and listeners, `live.store` its reads, `live.backend` everything
about the pub/sub backend (broadcaster, its postgres, redis and memory backends). Knows
nothing of GraphQL: `gql` subscribes through `live.events.LiveEvents`.
"""
