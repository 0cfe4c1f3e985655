package broker

// loadDefinitionsFile is a placeholder replaced below.
func (s *Server) loadDefinitionsFile() error { return nil }
