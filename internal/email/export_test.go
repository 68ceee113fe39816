package email

// PickAuth exposes pickAuth to the external tests.
var PickAuth = pickAuth
