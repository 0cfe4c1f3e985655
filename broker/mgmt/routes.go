package mgmt

// routes registers every endpoint, grouped by the file that answers it.
func (s *Server) routes() {
	s.userRoutes()
	s.permissionRoutes()
	s.vhostRoutes()
	s.limitRoutes()
	s.parameterRoutes()
	s.policyRoutes()
	s.definitionRoutes()
	s.overviewRoutes()
	s.objectRoutes()
	s.objectWriteRoutes()
	s.messageRoutes()
	s.connectionRoutes()
	s.operationRoutes()
}
