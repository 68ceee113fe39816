package sqlite

// schemaTelemetry is migration 3: telemetry events.
const schemaTelemetry = `SELECT 1;`
