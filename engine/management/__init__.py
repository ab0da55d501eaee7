"""Management: incidents and jobs as an operator sees them (Camunda's ManagementService)."""
