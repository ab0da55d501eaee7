"""TMF641 Service Ordering: CRM's orders for 服务开通."""
