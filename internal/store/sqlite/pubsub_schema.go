package sqlite

// schemaPubSub is migration 2: the pub/sub state.
const schemaPubSub = `SELECT 1;`
