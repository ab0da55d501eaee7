"""TMF642 Alarm Management: network managers' alarms."""
