"""TMF621 Trouble Ticket: the call centre's fault tickets for 售后故障."""
