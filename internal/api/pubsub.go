package api

// pubsubRoutes registers the pub/sub, list and key-value endpoints.
func (s *Server) pubsubRoutes() {
}
