# A context that no plan may destroy or replace while deletion_protection is
# true. To remove it, set deletion_protection = false and apply first.
resource "wacht_execution_context" "billing" {
  title         = "Billing disputes"
  context_group = "billing"
  agent_id      = var.agent_id

  deletion_protection = true
}
