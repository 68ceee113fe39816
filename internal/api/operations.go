package api

// operationRoutes registers telemetry, metrics, health and OpenAPI.
func (s *Server) operationRoutes() {
	s.telemetryRoutes() // telemetry.go
}
