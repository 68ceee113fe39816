package sqlite

// schemaPubSub is migration 2: the pub/sub state. Event history itself is
// the eventhistory table of migration 1, read through its
// (channel, sequence_id) index.
const schemaPubSub = `
CREATE TABLE subscription (
	id            INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused
	channel       TEXT NOT NULL,
	username      TEXT NOT NULL,
	promiscuous   INTEGER NOT NULL,
	subscriber_id TEXT,
	cursor        INTEGER NOT NULL,
	created       TEXT NOT NULL,
	last_poll     TEXT
);

CREATE TABLE subscriber_state (
	subscriber_id TEXT PRIMARY KEY,
	channel       TEXT NOT NULL,
	username      TEXT NOT NULL,
	promiscuous   INTEGER NOT NULL,
	last_event_id INTEGER NOT NULL,
	created_at    TEXT NOT NULL,
	last_poll     TEXT
) WITHOUT ROWID;

CREATE TABLE list_item (
	rid     INTEGER PRIMARY KEY AUTOINCREMENT,
	name    TEXT NOT NULL,
	value   BLOB NOT NULL,
	created TEXT NOT NULL
);
CREATE INDEX list_item_name ON list_item(name, rid);

CREATE TABLE kv (
	namespace TEXT NOT NULL,
	key       TEXT NOT NULL,
	value     TEXT NOT NULL,
	updated   TEXT NOT NULL,
	PRIMARY KEY (namespace, key)
) WITHOUT ROWID;
`

// schemaSubscriptionUser is migration 8: a user's subscriptions are
// counted (the POST /subscribe cap) from an index on the user instead of
// a read of every subscription.
const schemaSubscriptionUser = `
CREATE INDEX subscription_username ON subscription(username);
`
